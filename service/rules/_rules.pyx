# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Which rules fire, and what follows, compiled (Cython): the conditions of a rule set as
one program over a compact record of the facts.

``service/rules/conditions.py`` turns every rule's condition into nodes of a ``Program``
once, when the engine is built (each key of ``Condition`` says which node it is); per
event, ``FactReader.read`` reads the event's ``Facts`` (its text normalised and scanned
once, its language and tone), and the ``Program`` reads the facts into the record and
runs the rules in file order (``Assessor.assess``, at the end of this module, does both,
then explains the rules that fired and builds the assessment, in one call):

1. The record: the scores (NPS, rating, negativity; none = NaN) and the count of words,
   the channel, tier, lifecycle stage and language as ids of the values the rule set
   names (0: a value it does not name, or none), one flag per lexicon the conditions
   name in each bucket of the scan (hits, stated, hedged and never stated,
   intensified), and the yes/no facts (no text, a score given, shouting, angry
   punctuation, a repeat contact).
   Negativity and the count of words start *unknown*: each is read from the facts
   (where the text model predicts the negativity, ``Facts.negativity``; the words of the
   spaced text) only for the first rule whose outcome depends on it, so an event that
   the other tests decide never runs the model nor counts its words. A rule is first
   tested in three-valued (Kleene) logic: a condition on an unknown score is unknown; an
   ``all`` is false when any part is false, true when all are true, else unknown; an
   ``any`` is true when any alternative is true, false when all are false, else unknown;
   a ``not`` of unknown is unknown. A rule that comes out unknown reads one of the
   unknown scores it asked for, the count of words first (it is cheap, and may decide
   the rule without the model), and is tested again, until it is decided; so does a
   rule that comes out true while an ``any`` in it chose an alternative after an unknown
   one (its choice, rule 3, could be that one: the evidence must be exact). A false rule
   explains nothing, and neither does what is under a ``not``, so their choices never
   make the model run. An error of the model propagates out of ``Assessor.assess``.
2. The rules run in file order; a rule's condition sees exactly the earlier rules that
   fired (``fired`` only names earlier rules: the rule-file validation guarantees it).
3. An ``any`` node keeps which of its alternatives held first (its *choice*, -1 when
   none): the evidence of an ``any`` is that alternative's, and the engine reads the
   choices from the facts (``Facts.choices``) when it explains a rule.
4. The outcome of the fired rules, in file order: severity = base + their weights,
   clamped to 0–100; the priority of the first band whose minimum severity it reaches
   (else P4), no more urgent than the least urgent ``max_priority`` and at least as
   urgent as the most urgent ``min_priority``; the category of the rule whose category
   comes first in the precedence (the earliest such rule on a tie); management
   attention when any asks for it.

A ``Program`` keeps its per-event arrays between calls: one program serves one thread
(the prioritizer is single-threaded).

5. The evidence, what a fired rule's condition matched, is built only for the rules that
   fired (``explain_fired``), after the run, from the same facts: one ``Evidence`` per
   condition, composed by ``conditions.py`` from the kinds at the end of this module
   (lexicon words, fixed words, a fact's ``name=value``, the keys joined in order, an
   ``any``'s choice, and ``Called`` for a key that formats the facts in Python).
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject_GenericGetAttr
from libc.math cimport NAN
from libc.string cimport memset

from service.rules._scan import TextSignals as _TextSignals
from service.rules._scan import angry_punctuation as _angry_punctuation
from service.rules._scan import guess_language as _guess_language
from service.rules._scan import shouting_ratio as _shouting_ratio
from service.rules._scan import word_count as _word_count
from service.sentiment.model import prepare as _prepare

cdef extern from *:
    # defined by setup.py: the digest of this file as it was compiled
    const char* TRIAGE_SOURCE_DIGEST

#: The first 16 hex digits of the SHA-256 of the ``.pyx`` this module was compiled from
#: (``tests/unit/test_native_builds.py`` compares it with the file: a stale build fails).
SOURCE_DIGEST = TRIAGE_SOURCE_DIGEST.decode("ascii")

#: Node kinds (``Program`` nodes are ``(kind, slot, want, lo, hi, args)`` tuples).
TRUE, RANGE, MEMBER, LEXICON, FLAG, FIRED, ANY, ALL, NOT = range(9)
#: Slots of a ``RANGE`` node: the scores and counts.
NPS, RATING, NEGATIVITY, WORDS = range(4)
#: Slots of a ``MEMBER`` node: the named values.
CHANNEL, TIER, STAGE, LANGUAGE = range(4)
#: Slots of a ``LEXICON`` node: the scan's buckets (``HEDGED_ONLY``: hedged, never stated).
HITS, STATED, HEDGED_ONLY, INTENSIFIED = range(4)
#: Slots of a ``FLAG`` node.
TEXT_EMPTY, HAS_SCORE, SHOUTING, PUNCTUATION, REPEAT_CONTACT = range(5)

cdef enum:
    _TRUE = 0
    _RANGE = 1
    _MEMBER = 2
    _LEXICON = 3
    _FLAG = 4
    _FIRED = 5
    _ANY = 6
    _ALL = 7
    _NOT = 8
    _NEGATIVITY = 2
    _WORDS = 3
    _N_SCORES = 4
    _UNKNOWN = 2
    _N_FLAGS = 5
    _N_BUCKETS = 4

ctypedef struct Node:
    int kind
    int slot
    int want
    double lo
    double hi
    #: its arguments (ids, rule indices or child nodes) in ``Program.args``
    int start
    int count


# --- the facts of one event ----------------------------------------------------------


cdef class Facts:
    """What the rules can see of one event, computed once (``FactReader.read``).

    The program reads it into its record (rule 1 above); the evidence of the rules that
    fired reads it as it is. The text model's reading (``negativity``, and the
    ``model_input`` it reads) is the one fact computed on first use: the program asks for
    it only when a rule's outcome depends on it, which most events never do (a lexicon or
    score rule has already decided: 90 % of the bench mix, 17 % of the public review and
    post lines), and the model's prediction is the dearest fact of all."""

    cdef public object event
    #: a primary language subtag: the publisher's, else the guess (``language.decide``)
    cdef public str language
    #: what the text says (``TextSignals``)
    cdef public object signals
    #: the share of capitals among the letters (exact from the shouting threshold on)
    cdef public double shouting
    #: the runs of angry punctuation ("!!!", "?!")
    cdef public list punctuation
    #: ids of the customer's earlier tickets in the window
    cdef public object related
    cdef public object nps
    cdef public object rating
    cdef public object channel
    #: the customer's tier and lifecycle stage, as their values (None: not given)
    cdef public object tier
    cdef public object stage
    #: no text, or only whitespace (a zero-width space is text)
    cdef public bint text_empty
    cdef public bint has_score
    #: each ``any`` node's first alternative that held (the program's run sets them)
    cdef public list choices
    #: the text model (what ``negativity`` reads; None: the rules read none)
    cdef public object text_model
    cdef object _model_input
    cdef object _negativity
    cdef bint _negativity_read
    cdef object _negativity_words

    def __init__(
        self,
        event,
        str language,
        signals,
        double shouting,
        list punctuation,
        related=(),
        text_model=None,
    ):
        _fill(self, event, language, signals, shouting, punctuation, related, text_model)

    @property
    def model_input(self):
        """What the text model reads of the text (``prepare``), made on first use; empty
        without a model."""
        if self._model_input is None:
            signals = self.signals
            self._model_input = (
                _prepare(signals.spaced, signals.normalized) if self.text_model is not None else ""
            )
        return self._model_input

    @property
    def words(self):
        """The words of the text analysed, each kana or Han character one
        (``_scan.word_count``): counted when asked (the evidence of a ``words``
        condition; the program counts them itself, for the first rule that needs them)."""
        return _word_count(self.signals.spaced)

    @property
    def negativity(self):
        """The text model's negativity (service/sentiment/model.py, decision 2), predicted
        on first use and kept; None without a model or without words."""
        if not self._negativity_read:
            model, prepared = self.text_model, self.model_input
            self._negativity = (
                model.negativity(prepared) if model is not None and prepared else None
            )
            self._negativity_read = True  # only once it is known: an error is raised again
        return self._negativity

    @property
    def negativity_words(self):
        """The words that pushed the negativity most, with their shares
        (``NegativityModel.explain``), worked out on first use and kept: every rule that
        fired on the negativity shows the same words; empty without a model."""
        if self._negativity_words is None:
            model = self.text_model
            self._negativity_words = model.explain(self.model_input) if model is not None else []
        return self._negativity_words


cdef inline object _field(object event, str name):
    """A field of the event (or of its customer) by the generic lookup, which finds it in
    the model's ``__dict__``. A pydantic model's class defines ``__getattr__`` (for its
    private attributes; a field never reaches it), and that puts a hook before every
    attribute read: about 20 ns a read, which this one skips."""
    return PyObject_GenericGetAttr(event, name)


cdef void _fill(
    Facts facts,
    object event,
    str language,
    object signals,
    double shouting,
    list punctuation,
    object related,
    object text_model,
):
    """Every field of ``facts`` from the event and what was read of its text."""
    cdef object customer = _field(event, "customer")
    cdef object tier = _field(customer, "tier")
    cdef object stage = _field(customer, "lifecycle_stage")
    cdef object text = _field(event, "text")
    facts.event = event
    facts.language = language
    facts.signals = signals
    facts.shouting = shouting
    facts.punctuation = punctuation
    facts.related = related
    facts.nps = _field(event, "nps_score")
    facts.rating = _field(event, "rating")
    facts.channel = _field(event, "channel")
    # ``_value_``: an enum's ``value`` property costs three times the attribute
    facts.tier = tier._value_ if tier is not None else None
    facts.stage = stage._value_ if stage is not None else None
    facts.text_empty = not text or text.isspace()  # (``strip`` would copy the text)
    facts.has_score = facts.nps is not None or facts.rating is not None
    facts.choices = []
    facts.text_model = text_model
    facts._model_input = None
    facts._negativity = None
    facts._negativity_read = False
    facts._negativity_words = None


cdef class FactReader:
    """Reads the facts of one event (``read``): the text analysed (its first
    ``MAX_ANALYSED_CHARS``, after the subject's, on a line of its own) is normalised and
    scanned once; the language is the publisher's primary subtag, else the guess from
    the text's script, the scan's votes and the stopwords (``language.py``'s steps,
    ``guess_language``; ``model_language`` is its step 3); the tone is read from the
    text as written."""

    cdef object _scan, _stopword_votes, _normalize, _model_language, _text_model
    cdef double _shouting_at
    cdef Py_ssize_t _max_chars

    def __init__(
        self,
        *,
        scan,
        stopword_votes,
        normalize,
        model_language,
        text_model,
        double shouting_at,
        Py_ssize_t max_chars,
    ):
        self._scan = scan
        self._stopword_votes = stopword_votes
        self._normalize = normalize
        self._model_language = model_language
        self._text_model = text_model
        self._shouting_at = shouting_at
        self._max_chars = max_chars

    cpdef Facts read(self, object event, object related=()):
        """The facts of ``event``; ``related``: the customer's earlier tickets."""
        cdef str raw = _field(event, "text")
        cdef object subject = _field(event, "subject")
        cdef object tag = _field(event, "language")
        cdef str language
        cdef object signals
        cdef Facts facts = Facts.__new__(Facts)
        if len(raw) > self._max_chars:
            raw = raw[: self._max_chars]
        if subject:
            raw = (<str>subject)[: self._max_chars] + "\n" + raw
        signals = self._scan(self._normalize(raw)) if raw else _TextSignals()
        if tag:
            language = (<str>tag).partition("-")[0].lower()
        elif raw:
            language = _guess_language(
                raw, signals.votes, self._stopword_votes, signals.spaced, self._model_language
            )
        else:
            language = "und"
        _fill(
            facts,
            event,
            language,
            signals,
            # the exact share of capitals matters only from the threshold on
            _shouting_ratio(raw, at_least=self._shouting_at),
            _angry_punctuation(raw),
            related,
            self._text_model,
        )
        return facts


@cython.final  # not subclassed: its methods are called directly, not through a table
cdef class Program:
    """The conditions of a rule set as nodes, and what the outcome needs of each rule.

    ``nodes``: ``(kind, slot, want, lo, hi, args)`` per node (``args``: value or lexicon
    ids, earlier rules' indices, or child nodes; ``want``: a flag's wanted value, or an
    ``any`` node's choice slot); ``roots``: each rule's condition node, in file order;
    ``lexicons``: lexicon name → id (from 0); ``members``: per ``MEMBER`` slot, value →
    id (from 1); ``weights``, ``min_ranks``, ``max_ranks`` (0: none), ``category_ranks``
    (a large number: no category) and ``management``: per rule; ``bands``: (minimum
    severity, rank), most severe first; ``choices``: how many ``any`` nodes keep one."""

    cdef Node* _nodes
    cdef int* _args
    cdef int* _roots
    cdef int* _weights
    cdef int* _min_ranks
    cdef int* _max_ranks
    cdef int* _category_ranks
    cdef char* _management
    cdef int* _band_min
    cdef int* _band_rank
    cdef int _n_rules, _n_bands, _n_lexicons, _n_choices, _base
    cdef double _shouting_at
    cdef dict _lexicons
    cdef tuple _members
    # the record and the run's state, reused from event to event
    cdef double _scores[_N_SCORES]
    cdef int _ids[4]
    cdef char _flags[_N_FLAGS]
    cdef char* _buckets
    cdef char* _fired
    cdef int* _choices
    # the facts of the run (None between runs)
    cdef object _facts
    # per score: not read yet (negativity and words: read on demand, ``_read_wanted``)
    cdef char _pending[_N_SCORES]
    # per score: an unknown one that the rule being tested asked for
    cdef char _wanted[_N_SCORES]
    # an ``any`` chose an alternative after an unknown one in the rule being tested
    cdef bint _uncertain

    def __cinit__(self):
        self._nodes = NULL
        self._args = NULL
        self._roots = NULL
        self._weights = NULL
        self._min_ranks = NULL
        self._max_ranks = NULL
        self._category_ranks = NULL
        self._management = NULL
        self._band_min = NULL
        self._band_rank = NULL
        self._buckets = NULL
        self._fired = NULL
        self._choices = NULL

    def __init__(
        self,
        list nodes,
        list roots,
        dict lexicons,
        tuple members,
        list weights,
        list min_ranks,
        list max_ranks,
        list category_ranks,
        list management,
        list bands,
        int base,
        int choices,
        double shouting_at,
    ):
        cdef Py_ssize_t i, j, n_args = 0
        cdef Node* node
        for entry in nodes:
            n_args += len(entry[5])
        self._nodes = <Node*>_alloc(sizeof(Node) * (len(nodes) or 1))
        self._args = <int*>_alloc(sizeof(int) * (n_args or 1))
        n_args = 0
        for i, (kind, slot, want, lo, hi, args) in enumerate(nodes):
            node = &self._nodes[i]
            node.kind, node.slot, node.want = kind, slot, want
            node.lo, node.hi = lo, hi
            node.start, node.count = n_args, len(args)
            for j in range(len(args)):
                self._args[n_args + j] = args[j]
            n_args += len(args)
        self._n_rules = len(roots)
        self._roots = _ints(roots)
        self._weights = _ints(weights)
        self._min_ranks = _ints(min_ranks)
        self._max_ranks = _ints(max_ranks)
        self._category_ranks = _ints(category_ranks)
        self._management = <char*>_alloc(self._n_rules or 1)
        for i in range(self._n_rules):
            self._management[i] = 1 if management[i] else 0
        self._n_bands = len(bands)
        self._band_min = _ints([b[0] for b in bands])
        self._band_rank = _ints([b[1] for b in bands])
        self._lexicons = lexicons
        self._n_lexicons = len(lexicons)
        self._members = members
        self._n_choices = choices
        self._base = base
        self._shouting_at = shouting_at
        self._buckets = <char*>_alloc(_N_BUCKETS * self._n_lexicons or 1)
        self._fired = <char*>_alloc(self._n_rules or 1)
        self._choices = <int*>_alloc(sizeof(int) * (choices or 1))

    def __dealloc__(self):
        PyMem_Free(self._nodes)
        PyMem_Free(self._args)
        PyMem_Free(self._roots)
        PyMem_Free(self._weights)
        PyMem_Free(self._min_ranks)
        PyMem_Free(self._max_ranks)
        PyMem_Free(self._category_ranks)
        PyMem_Free(self._management)
        PyMem_Free(self._band_min)
        PyMem_Free(self._band_rank)
        PyMem_Free(self._buckets)
        PyMem_Free(self._fired)
        PyMem_Free(self._choices)

    cdef list _chosen(self):
        """Each ``any`` node's choice after a run (rule 3)."""
        return [self._choices[i] for i in range(self._n_choices)] if self._n_choices else []

    cdef list _fire(self, Facts facts):
        """The rules that fire for ``facts``, in file order (rules 1 to 3)."""
        cdef int i, held, n = self._n_rules
        cdef list fired = []
        self._read(facts)
        memset(self._fired, 0, n)
        try:
            for i in range(n):
                self._uncertain = False
                memset(self._wanted, 0, _N_SCORES)
                held = self._holds(self._roots[i])
                while held == _UNKNOWN or (held == 1 and self._uncertain):
                    self._read_wanted()
                    self._uncertain = False
                    memset(self._wanted, 0, _N_SCORES)
                    held = self._holds(self._roots[i])
                if held == 1:
                    self._fired[i] = 1
                    fired.append(i)
        finally:
            self._facts = None
        return fired

    cdef void _read(self, Facts facts):
        """The record of the facts (rule 1 of the module docstring)."""
        cdef object value
        cdef object signals = facts.signals
        cdef dict lexicons = self._lexicons
        cdef char* buckets = self._buckets
        cdef int nlex = self._n_lexicons
        cdef set stated
        value = facts.nps
        self._scores[0] = NAN if value is None else <double>value
        value = facts.rating
        self._scores[1] = NAN if value is None else <double>value
        self._scores[_NEGATIVITY] = NAN  # read on demand (``_read_wanted``)
        self._scores[_WORDS] = NAN  # the same
        self._pending[0] = self._pending[1] = 0
        self._pending[_NEGATIVITY] = self._pending[_WORDS] = 1
        self._facts = facts
        self._ids[0] = self._member(0, facts.channel)
        self._ids[1] = self._member(1, facts.tier)
        self._ids[2] = self._member(2, facts.stage)
        self._ids[3] = self._member(3, facts.language)
        self._flags[0] = 1 if facts.text_empty else 0
        self._flags[1] = 1 if facts.has_score else 0
        self._flags[2] = 1 if facts.shouting >= self._shouting_at else 0
        self._flags[3] = 1 if facts.punctuation else 0
        self._flags[4] = 1 if facts.related else 0
        memset(buckets, 0, _N_BUCKETS * nlex)
        if not nlex:
            return
        stated = signals.stated
        _mark(buckets, lexicons, signals.hits)
        _mark(buckets + nlex, lexicons, stated)
        for name in signals.hedged:
            if name not in stated:
                value = lexicons.get(name)
                if value is not None:
                    buckets[2 * nlex + <int>value] = 1
        _mark(buckets + 3 * nlex, lexicons, signals.intensified)

    cdef int _member(self, int slot, object value):
        if value is None:
            return 0
        found = (<dict>self._members[slot]).get(value)
        return 0 if found is None else <int>found

    cdef int _read_wanted(self) except -1:
        """Read one unknown score the rule being tested asked for into the record: the
        count of words first, else the negativity (rule 1)."""
        cdef Facts facts = self._facts
        if self._wanted[_WORDS]:
            self._scores[_WORDS] = <double>_word_count(facts.signals.spaced)
            self._pending[_WORDS] = 0
        elif self._wanted[_NEGATIVITY]:
            value = facts.negativity
            self._scores[_NEGATIVITY] = NAN if value is None else <double>value
            self._pending[_NEGATIVITY] = 0
        else:  # pragma: no cover - an unknown outcome asked for an unknown score
            raise AssertionError("an unknown rule asked for no unknown score")
        return 0

    cdef inline int _holds(self, int at) noexcept:
        """Whether node ``at`` holds (1), does not (0) or depends on the negativity not
        yet read (2: ``_UNKNOWN``), for the record and the rules fired so far (rule 1). A
        leaf (every kind below ``_ANY``) is read in place; only an ``any``, ``all`` or
        ``not`` calls ``_composite``, which comes back here for each of its parts."""
        cdef Node* node = &self._nodes[at]
        if node.kind >= _ANY:
            return self._composite(node)
        return self._leaf(node)

    cdef int _composite(self, Node* node) noexcept:
        """``_holds`` of an ``any``, ``all`` or ``not`` node."""
        cdef int* args = self._args + node.start
        cdef int i, held, found
        cdef bint uncertain
        cdef int kind = node.kind
        if kind == _ALL:
            found = 1
            for i in range(node.count):
                held = self._holds(args[i])
                if held == 0:
                    return 0
                if held == _UNKNOWN:
                    found = _UNKNOWN
            return found
        if kind == _ANY:
            found = 0
            for i in range(node.count):
                held = self._holds(args[i])
                if held == 1:
                    self._choices[node.want] = i
                    if found == _UNKNOWN:
                        self._uncertain = True
                    return 1
                if held == _UNKNOWN:
                    found = _UNKNOWN
            self._choices[node.want] = -1
            return found
        # _NOT
        uncertain = self._uncertain
        held = self._holds(args[0])
        self._uncertain = uncertain  # what is under a ``not`` explains nothing
        return _UNKNOWN if held == _UNKNOWN else 1 - held

    cdef inline int _leaf(self, Node* node) noexcept:
        """``_holds`` of a node of any other kind: it reads the record alone."""
        cdef int* args = self._args + node.start
        cdef int i, id_
        cdef double score
        cdef int kind = node.kind
        if kind == _LEXICON:
            for i in range(node.count):
                if self._buckets[node.slot * self._n_lexicons + args[i]]:
                    return 1
            return 0
        if kind == _FIRED:
            for i in range(node.count):
                if not self._fired[args[i]]:
                    return 0
            return 1
        if kind == _RANGE:
            if self._pending[node.slot]:
                self._wanted[node.slot] = 1
                return _UNKNOWN
            score = self._scores[node.slot]
            return node.lo <= score <= node.hi  # NaN (no score) compares false
        if kind == _MEMBER:
            id_ = self._ids[node.slot]
            if id_ == 0:
                return 0
            for i in range(node.count):
                if args[i] == id_:
                    return 1
            return 0
        if kind == _FLAG:
            return self._flags[node.slot] == node.want
        return 1  # _TRUE

    cdef tuple _outcome(self, list fired):
        """Severity, rank, category rule and management attention (rule 4)."""
        cdef int severity = self._base, floor = 0, cap = 0, rank = 4
        cdef int best = -1, best_rank = 1 << 30
        cdef bint management = False
        cdef int i
        for index in fired:
            i = index
            severity += self._weights[i]
            if self._min_ranks[i] and (not floor or self._min_ranks[i] < floor):
                floor = self._min_ranks[i]
            if self._max_ranks[i] > cap:
                cap = self._max_ranks[i]
            if self._category_ranks[i] < best_rank:
                best, best_rank = i, self._category_ranks[i]
            if self._management[i]:
                management = True
        severity = 0 if severity < 0 else 100 if severity > 100 else severity
        for i in range(self._n_bands):
            if severity >= self._band_min[i]:
                rank = self._band_rank[i]
                break
        if cap and rank < cap:
            rank = cap
        if floor and rank > floor:
            rank = floor
        return severity, rank, best, management


cdef void _mark(char* bucket, dict lexicons, object names):
    """Flag the lexicons of ``names`` (an iterable of lexicon names) that the rules name."""
    for name in names:
        found = lexicons.get(name)
        if found is not None:
            bucket[<int>found] = 1


cdef void* _alloc(size_t size) except NULL:
    cdef void* pointer = PyMem_Malloc(size)
    if pointer == NULL:
        raise MemoryError()
    memset(pointer, 0, size)
    return pointer


cdef int* _ints(list values) except NULL:
    cdef int* out = <int*>_alloc(sizeof(int) * (len(values) or 1))
    cdef Py_ssize_t i
    for i in range(len(values)):
        out[i] = values[i]
    return out


# --- the evidence ---------------------------------------------------------------------
#
# What a fired rule's condition matched, as ``conditions.py`` composes it when the engine
# is built: one ``Evidence`` object per condition, built from the kinds below. A key whose
# evidence formats a value of the facts (a score, a member, the tone, the repeat contact,
# the negativity) keeps its Python function (``Called``); the lexicon words, the fixed
# words, the concatenation of a condition's keys and the choice of an ``any``, which make
# up most of what a ticket's reasons say, are built here without a Python call per part.


cdef class Evidence:
    """The evidence of one condition: ``evidence(facts) -> list[str]``."""

    cdef list of(self, object facts):
        raise NotImplementedError

    def __call__(self, facts):
        return self.of(facts)


cdef class Called(Evidence):
    """The evidence a Python function gives (``explain(facts) -> list[str]``)."""

    cdef object explain

    def __init__(self, explain):
        self.explain = explain

    cdef list of(self, object facts):
        return self.explain(facts)


cdef class Field(Evidence):
    """``name=value`` of one fact (the facts' attribute ``attr``, as an f-string writes
    it): the evidence of a score's range and of a value's membership."""

    cdef str name, attr

    def __init__(self, str name, str attr):
        self.name = name
        self.attr = attr

    cdef list of(self, object facts):
        return [f"{self.name}={getattr(facts, self.attr)}"]


cdef class Fixed(Evidence):
    """The same words every time (a fresh list each time: the ticket owns it)."""

    cdef list words

    def __init__(self, list words):
        self.words = list(words)

    cdef list of(self, object facts):
        return list(self.words)


cdef class Joined(Evidence):
    """The evidence of each part, in order, one list (the keys of a condition, or the
    conditions of an ``all``)."""

    cdef tuple parts

    def __init__(self, tuple parts):
        self.parts = _checked(parts)

    cdef list of(self, object facts):
        cdef list found = []
        for part in self.parts:
            found.extend((<Evidence>part).of(facts))
        return found


cdef class Chosen(Evidence):
    """An ``any``: the evidence of the alternative that held first (its choice, read
    from ``Facts.choices``, rule 3)."""

    cdef int slot
    cdef tuple alternatives

    def __init__(self, int slot, tuple alternatives):
        self.slot = slot
        self.alternatives = _checked(alternatives)

    cdef list of(self, object facts):
        # checked, because the module reads lists unchecked: facts that no program ran
        # on (``RuleEngine.facts``) have no choices, and an index past the end would
        # read past the list rather than raise
        cdef list choices = facts.choices
        if self.slot >= len(choices):
            raise ValueError(f"no choice for node slot {self.slot}: run the program first")
        cdef int choice = choices[self.slot]
        if not 0 <= choice < len(self.alternatives):
            raise ValueError(f"choice {choice} names no alternative: the 'any' did not hold")
        return (<Evidence>self.alternatives[choice]).of(facts)


#: The buckets of the signals a ``Words`` reads.
WORDS_HIT, WORDS_INTENSIFIED = range(2)


cdef class Words(Evidence):
    """The phrases of the named lexicons in a bucket of the scan (``hits`` or
    ``intensified``), five a lexicon at most, each as ``name: phrase``."""

    cdef tuple names
    cdef tuple prefixes
    cdef bint intensified

    def __init__(self, list names, int bucket):
        self.names = tuple(names)
        self.prefixes = tuple(f"{name}: " for name in names)
        self.intensified = bucket == WORDS_INTENSIFIED

    cdef list of(self, object facts):
        signals = facts.signals
        cdef dict bucket = signals.intensified if self.intensified else signals.hits
        cdef list found = []
        cdef Py_ssize_t i
        for i in range(len(self.names)):
            words = bucket.get(self.names[i])
            if words:
                _prefixed(found, <str>self.prefixes[i], <list>words)
        return found


cdef class StatedWords(Words):
    """The phrases (``hits``) of the named lexicons that matched without a hedge
    (``stated``), as ``Words`` gives them."""

    def __init__(self, list names):
        super().__init__(names, WORDS_HIT)

    cdef list of(self, object facts):
        signals = facts.signals
        cdef set stated = signals.stated
        cdef dict hits = signals.hits
        cdef list found = []
        cdef Py_ssize_t i
        for i in range(len(self.names)):
            name = self.names[i]
            if name in stated:
                _prefixed(found, <str>self.prefixes[i], <list>hits[name])
        return found


cdef class HedgedWords(Evidence):
    """The hedged phrases of the named lexicons never stated: ``name: phrase (hedged)``."""

    cdef tuple names

    def __init__(self, list names):
        self.names = tuple(names)

    cdef list of(self, object facts):
        signals = facts.signals
        cdef set stated = signals.stated
        cdef dict hedged = signals.hedged
        cdef list found = []
        for name in self.names:
            if name in stated:
                continue
            words = hedged.get(name)
            if words:
                for word in (<list>words)[:5]:
                    found.append(f"{name}: {word} (hedged)")
        return found


cdef tuple _checked(tuple parts):
    """``parts``, each an ``Evidence`` (what the unchecked casts above rely on)."""
    for part in parts:
        if not isinstance(part, Evidence):
            raise TypeError(f"not an Evidence: {part!r}")
    return parts


cdef inline void _prefixed(list found, str prefix, list words):
    """Append ``prefix + word`` for the first five of ``words``."""
    cdef Py_ssize_t i, n = len(words)
    if n > 5:
        n = 5
    for i in range(n):
        found.append(prefix + <str>words[i])


def explain_fired(list fired, list evidence, list reasons, list actions, object facts):
    """The reasons and actions of the fired rules (indices in ``fired``, in file order):
    for each, a copy of its reason's fields (``reasons``, by rule) with its evidence
    (``evidence``, by rule), and its actions (``actions``, by rule: tuples), in order."""
    return _explain(fired, evidence, reasons, actions, facts)


cdef tuple _explain(list fired, list evidence, list reasons, list actions, object facts):
    """``explain_fired``."""
    cdef list out = [], acts = []
    cdef dict fields
    cdef Py_ssize_t i
    # the lists are read unchecked below: an index past them would read past their ends
    cdef Py_ssize_t n = min(len(evidence), len(reasons), len(actions))
    for index in fired:
        i = index
        if not 0 <= i < n:
            raise IndexError(f"fired rule {i} is not one of the {n} rules")
        fields = (<dict>reasons[i]).copy()
        fields["evidence"] = (<Evidence?>evidence[i]).of(facts)
        out.append(fields)
        if actions[i]:
            acts.extend(<tuple>actions[i])
    return out, acts


# --- an assessment in one call ---------------------------------------------------------


cdef class Assessor:
    """``RuleEngine.assess`` in one call: the facts (``FactReader.read``), the rules that
    fire and their outcome (the ``Program``: rules 1 to 4), their reasons and actions
    (``explain_fired``), and the engine's ``Assessment``, built by ``new_assessment``
    (``service.trusted.Slotted``: each of its slots written as its own ``__init__``
    sets them; ``tests/unit/test_rules_engine.py`` holds the two equal).

    ``reasons``, ``evidence``, ``actions`` and ``categories`` are the engine's, by rule
    (``categories`` has the default category last: the index -1 reads it);
    ``priorities``: rank → ``Priority``; ``defaults``: ``Priority`` → its default
    actions; ``debug_reasons``: facts → the extra reasons ``assess(debug=True)``
    appends."""

    cdef FactReader _reader
    cdef Program _program
    cdef list _evidence, _reasons, _actions, _categories
    cdef dict _priorities, _defaults
    cdef object _new_assessment, _debug_reasons

    def __init__(
        self,
        FactReader reader,
        Program program,
        list evidence,
        list reasons,
        list actions,
        list categories,
        dict priorities,
        dict defaults,
        object new_assessment,
        object debug_reasons,
    ):
        self._reader = reader
        self._program = program
        self._evidence = evidence
        self._reasons = reasons
        self._actions = actions
        self._categories = categories
        self._priorities = priorities
        self._defaults = defaults
        self._new_assessment = new_assessment
        self._debug_reasons = debug_reasons

    def assess(self, object event, object related=(), bint debug=False):
        """The ``Assessment`` of ``event``; ``related``: the customer's earlier tickets."""
        cdef Facts facts = self._reader.read(event, related)
        cdef list fired = self._program._fire(facts)
        severity, rank, category_at, manager = self._program._outcome(fired)
        facts.choices = self._program._chosen()
        reasons, actions = _explain(fired, self._evidence, self._reasons, self._actions, facts)
        if debug:
            (<list>reasons).extend(self._debug_reasons(facts))
        priority = self._priorities[rank]
        defaults = self._defaults.get(priority, ())
        # -1, no rule's category: the default, last (this module reads no index from the end)
        if category_at < 0:
            category_at = len(self._categories) - 1
        return self._new_assessment(
            severity,
            priority,
            self._categories[category_at],
            reasons,
            # the priority's default actions, then the fired rules', each once, in order
            list(dict.fromkeys([*defaults, *actions])) if actions else list(defaults),
            manager,
            facts.language,
            list(related),
        )
