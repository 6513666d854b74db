# cython: language_level=3, boundscheck=False, wraparound=False
"""Objects built from values that are already known to be valid (compiled): pydantic
models (``construct``) and instances of slotted dataclasses (``Slotted``).

``Model.model_construct`` loops in Python over the model's fields. Where a caller has
every value checked already (the decoder's common form of a feedback event, a fired
rule's reason), ``construct`` sets what pydantic's validator would have set — the fields
in the model's order, the names the input gave, the extra fields, no private state —
through ``BaseModel``'s own descriptors (its ``__dict__`` and its three slots), each
called in C as ``object.__setattr__`` would after a type lookup, with no validator run
and no loop. Each caller's tests hold its models equal to the validator's.

A dataclass's generated ``__init__`` is a Python function: for a record of thirteen
fields, about 0.3 µs a record over building a tuple, and the hot paths build one or two
records an event. ``Slotted`` builds the same instance from positional values and the
fields' defaults, setting each slot through its descriptor in C (tests hold it to the
class's own ``__init__``).
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.ref cimport Py_INCREF

from dataclasses import MISSING, fields, is_dataclass
from types import MemberDescriptorType

from pydantic import BaseModel

cdef extern from *:
    # defined by setup.py: the digest of this file as it was compiled
    const char* TRIAGE_SOURCE_DIGEST

#: The first 16 hex digits of the SHA-256 of the ``.pyx`` this module was compiled from
#: (``tests/unit/test_native_builds.py`` compares it with the file).
SOURCE_DIGEST = TRIAGE_SOURCE_DIGEST.decode("ascii")

cdef extern from "Python.h":
    PyTypeObject PyBaseObject_Type
    bint PyType_IS_GC(PyTypeObject* cls)
    void PyObject_GC_UnTrack(void* op)
    Py_ssize_t PyTuple_GET_SIZE(object items)
    Py_ssize_t PyList_GET_SIZE(object items)
    PyObject* PyTuple_GET_ITEM(object items, Py_ssize_t i)
    PyObject* PyList_GET_ITEM(object items, Py_ssize_t i)

# BaseModel's ``__dict__`` and slots: the descriptors ``object.__setattr__`` would find
cdef object _DICT = BaseModel.__dict__["__dict__"]
cdef object _FIELDS_SET = BaseModel.__dict__["__pydantic_fields_set__"]
cdef object _EXTRA = BaseModel.__dict__["__pydantic_extra__"]
cdef object _PRIVATE = BaseModel.__dict__["__pydantic_private__"]
cdef tuple _NO_ARGS = ()


cdef inline int _set(object descriptor, object model, object value) except -1:
    """``descriptor.__set__(model, value)``, called through its type's slot."""
    return Py_TYPE(descriptor).tp_descr_set(descriptor, model, value)


def construct(object cls, dict fields, set names, object extra):
    """A ``cls`` (a subclass of ``BaseModel``) holding ``fields`` (every field, in the
    model's order), with ``names`` as the fields set and ``extra`` as its extra fields
    (None where the model allows none; a dict, empty or not, where it allows them)."""
    if not issubclass(cls, BaseModel):
        raise TypeError(f"{cls.__name__} is not a pydantic model")
    # ``object.__new__(cls)``, whose safety check the subclass test above stands for
    model = PyBaseObject_Type.tp_new(<type>cls, <PyObject*>_NO_ARGS, NULL)
    _set(_DICT, model, fields)
    _set(_FIELDS_SET, model, names)
    _set(_EXTRA, model, extra)
    _set(_PRIVATE, model, None)
    return model


cdef object _NO_DEFAULT = object()

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
        int flags
    int T_OBJECT_EX
    int READONLY

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member


cdef class Slotted:
    """Builds instances of ``cls``, a slotted dataclass (``@dataclass(slots=True)``, built
    by ``object.__new__``, no ``__post_init__``) from trusted values: ``slotted(*values)``
    gives what ``cls(*values)`` gives — the first fields from ``values``, in order, every
    other its default (a default factory is called) — without running ``__init__``. A
    class with its own ``__init__`` (``init=False``) takes a value for every field, each
    set as it is given (its callers' tests hold that to its ``__init__``).

    Each value is written at its slot's offset, as the slot's descriptor writes it (an
    object slot that may be unset, checked once here), into the new instance, whose
    slots are all unset: no descriptor call, no type check, per field.

    ``untracked=True`` (for records that are never changed once built) takes an instance
    whose values are all inert (``_inert``: objects of types the garbage collector does
    not track, such as strings, bytes, numbers and None, or tuples and lists of them, or
    of tuples of them) off the collector's lists: nothing it holds can ever lead back to
    it, so it can be in no reference cycle, and reference counting frees it as before.
    A batch's records live until the batch is acknowledged, so each young collection
    walked thousands of them; an instance holding anything else (a callback) stays
    tracked."""

    cdef type _cls
    cdef Py_ssize_t* _offsets
    cdef tuple _defaults, _factories
    cdef Py_ssize_t _fields, _required
    cdef bint _untracked

    def __cinit__(self):
        self._offsets = NULL

    def __dealloc__(self):
        PyMem_Free(self._offsets)

    def __init__(self, type cls, *, bint untracked=False):
        if not is_dataclass(cls) or cls.__new__ is not object.__new__:
            raise TypeError(f"{cls.__name__} is not a dataclass built by object.__new__")
        if hasattr(cls, "__post_init__"):
            raise TypeError(f"{cls.__name__} has a __post_init__, which would not run")
        every = fields(cls)
        cdef Py_ssize_t i, n = len(every)
        cdef PyMemberDef* member
        PyMem_Free(self._offsets)  # (NULL unless ``__init__`` runs again)
        self._offsets = <Py_ssize_t*>PyMem_Malloc(max(n, 1) * sizeof(Py_ssize_t))
        if self._offsets == NULL:
            raise MemoryError()
        for i in range(n):
            slot = cls.__dict__.get(every[i].name)
            if type(slot) is not MemberDescriptorType:
                raise TypeError(f"{cls.__name__}.{every[i].name} is not a slot")
            member = (<PyMemberDescrObject*><PyObject*>slot).d_member
            if member.type != T_OBJECT_EX or member.flags & READONLY:
                raise TypeError(f"{cls.__name__}.{every[i].name} is not an object slot")
            self._offsets[i] = member.offset
        self._cls = cls
        self._fields = n
        self._untracked = untracked
        self._defaults = tuple(
            f.default if f.default is not MISSING else _NO_DEFAULT for f in every
        )
        self._factories = tuple(
            f.default_factory if f.default_factory is not MISSING else None for f in every
        )
        own_init = not cls.__dataclass_params__.init
        self._required = n if own_init else sum(
            1 for f in every if f.default is MISSING and f.default_factory is MISSING
        )

    def __call__(self, *values):
        """A ``cls`` of ``values`` (its first fields), the other fields at their defaults."""
        cdef Py_ssize_t i, given = len(values), n = self._fields
        cdef bint inert = self._untracked
        if given < self._required or given > n:
            raise TypeError(
                f"{self._cls.__name__} takes {self._required} to {n} values, got {given}"
            )
        made = PyBaseObject_Type.tp_new(self._cls, <PyObject*>_NO_ARGS, NULL)
        for i in range(n):
            if i < given:
                value = values[i]
            else:
                value = self._defaults[i]
                if value is _NO_DEFAULT:
                    value = self._factories[i]()
            Py_INCREF(value)
            (<PyObject**>((<char*><PyObject*>made) + self._offsets[i]))[0] = <PyObject*>value
            if inert:
                inert = _inert(value, 2)
        if inert:
            PyObject_GC_UnTrack(<PyObject*>made)
        return made


cdef inline bint _atomic(PyObject* value) noexcept:
    """An object of a type the garbage collector does not track: it holds no reference
    that could lead back to anything."""
    return not PyType_IS_GC(Py_TYPE(<object>value))


cdef bint _inert(object value, int depth) noexcept:
    """``value`` cannot lead to anything that refers back to a new record: an object of a
    type the garbage collector does not track, or (``depth`` levels deep) a tuple or a
    list whose items are all inert. Items are read borrowed: nothing here runs Python
    code that could drop them."""
    cdef PyObject* item
    cdef Py_ssize_t i, n
    cdef bint is_list
    if _atomic(<PyObject*>value):
        return True
    if not depth:
        return False
    if type(value) is tuple:
        is_list = False
        n = PyTuple_GET_SIZE(value)
    elif type(value) is list:
        is_list = True
        n = PyList_GET_SIZE(value)
    else:
        return False
    for i in range(n):
        item = PyList_GET_ITEM(value, i) if is_list else PyTuple_GET_ITEM(value, i)
        if not _atomic(item) and not _inert(<object>item, depth - 1):
            return False
    return True
