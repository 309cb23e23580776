"""What a poll asks: a few questions, each a 4-level `scale` (on one of the
quality criteria, or free), a `choice` among 2 to 6 answers, or a free
`text` (optional, shown only after moderation). A question is a dict
{"kind", "criterion", "fr", "en", "choices": [{"fr", "en"}]}."""
from typing import Any

KINDS = ("scale", "choice", "text")
MAX_QUESTIONS = 8
MAX_CHOICES = 6
MAX_LABEL = 200
MAX_TEXT = 1000
SCALE = 4  # levels of a scale question, 0 (worst) .. 3 (best), as the kiosks' 4 buttons

# The quality criteria, in the journey's order: the question they ask the
# agents, and what the mirror compares them with (QR topics; mystery
# criteria of a journey step, or those with a timeliness measure).
CRITERIA: dict[str, dict[str, Any]] = {
    "access": {
        "fr": "Accès et signalétique : les usagers trouvent-ils facilement le service ?",
        "en": "Access and signs: do users find the service easily?",
        "label_fr": "Accès et signalétique", "label_en": "Access and signs",
        "topics": ("accessibilite",), "step": "access", "measures": False},
    "waiting": {
        "fr": "Temps d'attente : les usagers attendent-ils raisonnablement ?",
        "en": "Waiting time: do users wait a reasonable time?",
        "label_fr": "Temps d'attente", "label_en": "Waiting time",
        "topics": ("attente",), "step": None, "measures": True},
    "welcome": {
        "fr": "Accueil et courtoisie : les usagers sont-ils bien accueillis ?",
        "en": "Welcome and courtesy: are users well welcomed?",
        "label_fr": "Accueil et courtoisie", "label_en": "Welcome and courtesy",
        "topics": ("accueil", "courtoisie"), "step": "orientation", "measures": False},
    "information": {
        "fr": "Information : les usagers reçoivent-ils une information exacte et claire ?",
        "en": "Information: do users get accurate and clear information?",
        "label_fr": "Information", "label_en": "Information",
        "topics": ("information",), "step": "information", "measures": False},
    "efficiency": {
        "fr": "Efficacité : les demandes des usagers trouvent-elles une réponse ?",
        "en": "Efficiency: do users' requests get an answer?",
        "label_fr": "Efficacité de la réponse", "label_en": "Efficiency of the answer",
        "topics": ("efficacite",), "step": "treatment", "measures": False},
}
FREE_TEXT = {"kind": "text", "criterion": "",
             "fr": "Une idée pour mieux servir les usagers ? (facultatif)",
             "en": "An idea to serve users better? (optional)", "choices": []}


class QuestionError(ValueError):
    pass


def criterion_question(code: str) -> dict:
    """The standard scale question of a quality criterion."""
    if code not in CRITERIA:
        raise QuestionError("unknown criterion %r (one of %s)" % (code, ", ".join(CRITERIA)))
    c = CRITERIA[code]
    return {"kind": "scale", "criterion": code, "fr": c["fr"], "en": c["en"], "choices": []}


def _label(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_LABEL:
        raise QuestionError("%s: a text of 1 to %d characters" % (where, MAX_LABEL))
    return value.strip()


def check(questions: Any) -> list[dict]:
    """The questions in their stored shape, or QuestionError saying which is wrong."""
    if not isinstance(questions, list) or not 1 <= len(questions) <= MAX_QUESTIONS:
        raise QuestionError("a poll has 1 to %d questions" % MAX_QUESTIONS)
    out = []
    for i, q in enumerate(questions, 1):
        where = "question %d" % i
        if not isinstance(q, dict) or q.get("kind") not in KINDS:
            raise QuestionError("%s: kind must be one of %s" % (where, ", ".join(KINDS)))
        crit = q.get("criterion") or ""
        if crit and (q["kind"] != "scale" or crit not in CRITERIA):
            raise QuestionError("%s: a criterion (one of %s) goes only with a scale question"
                                % (where, ", ".join(CRITERIA)))
        item = {"kind": q["kind"], "criterion": crit,
                "fr": _label(q.get("fr") or (CRITERIA[crit]["fr"] if crit else None),
                             where + " fr"),
                "en": _label(q.get("en") or (CRITERIA[crit]["en"] if crit else None),
                             where + " en"),
                "choices": []}
        if q["kind"] == "choice":
            choices = q.get("choices")
            if not isinstance(choices, list) or not 2 <= len(choices) <= MAX_CHOICES:
                raise QuestionError("%s: 2 to %d choices" % (where, MAX_CHOICES))
            item["choices"] = [{"fr": _label(isinstance(c, dict) and c.get("fr"), where),
                                "en": _label(isinstance(c, dict) and c.get("en"), where)}
                               for c in choices]
        out.append(item)
    return out


def options(question: dict) -> int:
    """How many values a scale or choice question takes (0 for text)."""
    if question["kind"] == "scale":
        return SCALE
    return len(question["choices"])
