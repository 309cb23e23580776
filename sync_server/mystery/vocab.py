"""The words of the mystery-survey format: channels, journey steps, results
and measures, with the French spellings spreadsheets use."""
import unicodedata

CHANNELS = ("desk", "phone", "email", "letter", "social", "website")
STEPS = ("access", "orientation", "information", "treatment")
MEASURES = ("rings", "wait_seconds", "working_days")
RESULTS = ("pass", "fail", "na")

_CHANNEL_WORDS = {
    "desk": ("desk", "accueil", "guichet", "accueil physique"),
    "phone": ("phone", "telephone", "tel"),
    "email": ("email", "e-mail", "mail", "courriel"),
    "letter": ("letter", "courrier", "lettre", "courrier postal"),
    "social": ("social", "social network", "reseaux sociaux", "reseau social"),
    "website": ("website", "site internet", "site web", "internet", "web"),
}
_STEP_WORDS = {
    "access": ("access", "acces", "accessibilite"),
    "orientation": ("orientation",),
    "information": ("information",),
    "treatment": ("treatment", "traitement"),
}
_RESULT_WORDS = {
    "pass": ("pass", "conforme", "oui", "yes", "ok", "1", "c"),
    "fail": ("fail", "non conforme", "non", "no", "ko", "0", "nc"),
    "na": ("na", "n/a", "sans objet", "so", "s/o", "non applicable", "not applicable"),
}


def plain(text: str) -> str:
    """Lower case, no accents, single spaces: how words are compared."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.lower().replace("_", " ").split())


def _lookup(words):
    return {plain(w): code for code, ws in words.items() for w in ws}


_CHANNELS = _lookup(_CHANNEL_WORDS)
_STEPS = _lookup(_STEP_WORDS)
_RESULTS = _lookup(_RESULT_WORDS)


def channel_code(text: str) -> str | None:
    return _CHANNELS.get(plain(text))


def step_code(text: str) -> str | None:
    return _STEPS.get(plain(text))


def result_code(text: str) -> str | None:
    return _RESULTS.get(plain(text))
