# cython: language_level=3
"""Pydantic models built from values that are already known to be valid (compiled).

``Model.model_construct`` loops in Python over the model's fields. Where a caller has
every value checked already (the decoder's common form of a feedback event, a fired
rule's reason), ``construct`` sets what pydantic's validator would have set — the fields
in the model's order, the names the input gave, the extra fields, no private state —
through ``BaseModel``'s own descriptors (its ``__dict__`` and its three slots), each
called in C as ``object.__setattr__`` would after a type lookup, with no validator run
and no loop. Each caller's tests hold its models equal to the validator's.
"""

from cpython.object cimport PyObject, PyTypeObject, Py_TYPE

from pydantic import BaseModel

cdef extern from *:
    # defined by setup.py: the digest of this file as it was compiled
    const char* TRIAGE_SOURCE_DIGEST

#: The first 16 hex digits of the SHA-256 of the ``.pyx`` this module was compiled from
#: (``tests/unit/test_native_builds.py`` compares it with the file).
SOURCE_DIGEST = TRIAGE_SOURCE_DIGEST.decode("ascii")

cdef extern from "Python.h":
    PyTypeObject PyBaseObject_Type

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
