"""The QR form's pages: texts in French and English, and rendering from the
templates `feedback_*.html`. Every value put into a page is escaped here."""
import html
import os
from string import Template

from sync_server.web.level_names import LEVEL_NAMES

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_COMMENT = 1000
TOPICS = ("accueil", "attente", "information", "accessibilite", "courtoisie", "efficacite")
LANGS = ("fr", "en")
# Emoji per level for 2, 3 and 4 buttons, least satisfied first, as on the kiosks.
SMILEYS = {2: ("\U0001F61E", "\U0001F60A"),
           3: ("\U0001F61E", "\U0001F610", "\U0001F60A"),
           4: ("\U0001F620", "\U0001F61E", "\U0001F60A", "\U0001F604")}

TEXT = {
    "fr": {
        "switch": "English",
        "title": "Votre avis sur %s",
        "intro": "Comment s'est passé votre contact avec le service ? "
                 "Votre réponse est anonyme.",
        "legend_level": "Votre satisfaction (obligatoire)",
        "levels": LEVEL_NAMES["fr"],
        "legend_topics": "Sur quoi porte votre avis ? (facultatif)",
        "topics": {"accueil": "Accueil", "attente": "Temps d'attente",
                   "information": "Information", "accessibilite": "Accessibilité",
                   "courtoisie": "Courtoisie", "efficacite": "Efficacité"},
        "comment_label": "Commentaire (facultatif, 1 000 caractères au plus)",
        "comment_hint": "N'indiquez ni nom, ni adresse électronique, ni numéro de téléphone.",
        "submit": "Envoyer mon avis",
        "errors_heading": "Votre avis n'a pas été envoyé :",
        "error_prefix": "Erreur : ",
        "level_missing": "choisissez votre niveau de satisfaction.",
        "level_bad": "le niveau de satisfaction reçu n'existe pas.",
        "topic_bad": "un thème reçu n'existe pas.",
        "comment_long": "le commentaire fait %d caractères ; 1 000 au plus.",
        "comment_chars": "le commentaire contient des caractères de contrôle non autorisés.",
        "thanks_title": "Merci !",
        "thanks": "Votre avis a bien été enregistré. Il aide le service à s'améliorer.",
        "again_title": "Avis déjà donné",
        "again": "Vous avez déjà donné votre avis sur ce service il y a moins d'une heure. "
                 "Merci ! Vous pourrez en donner un nouveau plus tard.",
        "rate_title": "Trop de réponses",
        "rate": "Trop de réponses viennent de votre connexion. Réessayez dans une heure.",
        "notfound_title": "Code QR inconnu",
        "notfound": "Ce code QR n'est pas ou plus valable. Demandez à l'accueil le code à jour.",
        "bad_title": "Réponse refusée",
        "csrf": "Le formulaire a expiré ou n'a pas été envoyé depuis cette page. "
                "Rechargez la page et recommencez (les cookies doivent être acceptés).",
        "too_large": "La réponse envoyée est trop volumineuse.",
        "malformed_utf8": "La réponse envoyée est illisible : elle n'est pas en UTF-8.",
        "malformed_fields": "La réponse envoyée est illisible : champs en trop ou mal formés.",
    },
    "en": {
        "switch": "Français",
        "title": "Your opinion of %s",
        "intro": "How was your contact with the service? Your answer is anonymous.",
        "legend_level": "Your satisfaction (required)",
        "levels": LEVEL_NAMES["en"],
        "legend_topics": "What is your opinion about? (optional)",
        "topics": {"accueil": "Welcome", "attente": "Waiting time",
                   "information": "Information", "accessibilite": "Accessibility",
                   "courtoisie": "Courtesy", "efficacite": "Efficiency"},
        "comment_label": "Comment (optional, at most 1,000 characters)",
        "comment_hint": "Please give no name, email address or phone number.",
        "submit": "Send my opinion",
        "errors_heading": "Your opinion was not sent:",
        "error_prefix": "Error: ",
        "level_missing": "choose your level of satisfaction.",
        "level_bad": "the level of satisfaction received does not exist.",
        "topic_bad": "a topic received does not exist.",
        "comment_long": "the comment has %d characters; at most 1,000.",
        "comment_chars": "the comment contains control characters that are not allowed.",
        "thanks_title": "Thank you!",
        "thanks": "Your opinion has been recorded. It helps the service improve.",
        "again_title": "Opinion already given",
        "again": "You already gave your opinion of this service less than an hour ago. "
                 "Thank you! You can give a new one later.",
        "rate_title": "Too many answers",
        "rate": "Too many answers come from your connection. Try again in an hour.",
        "notfound_title": "Unknown QR code",
        "notfound": "This QR code is not or no longer valid. Ask the front desk for the "
                    "current one.",
        "bad_title": "Answer refused",
        "csrf": "The form has expired or was not sent from this page. Reload the page and "
                "try again (cookies must be accepted).",
        "too_large": "The answer sent is too large.",
        "malformed_utf8": "The answer sent cannot be read: it is not UTF-8.",
        "malformed_fields": "The answer sent cannot be read: too many or malformed fields.",
    },
}


def pick_lang(value):
    return value if value in LANGS else "fr"


def _template(name):
    with open(os.path.join(HERE, "templates", name), encoding="utf-8") as f:
        return Template(f.read())


def _css():
    with open(os.path.join(HERE, "static", "feedback_form.css"), encoding="utf-8") as f:
        return f.read()


e = html.escape


def page(lang, site_name, title, body, path):
    other = "en" if lang == "fr" else "fr"
    return _template("feedback_page.html").substitute(
        lang=lang, title=e(title), css=_css(), site=e(site_name or ""),
        switch_href=e("%s?lang=%s" % (path, other)), switch_lang=other,
        switch_label=e(TEXT[lang]["switch"]), body=body)


def message_page(lang, site_name, title_key, message, path, alert=False):
    t = TEXT[lang]
    body = _template("feedback_message.html").substitute(
        heading=e(t[title_key]), message=e(message),
        focus=' tabindex="-1" id="message" autofocus' if alert else "",
        role=' role="alert"' if alert else "")
    return page(lang, site_name, t[title_key], body, path)


def form_page(lang, site_name, scale, action, csrf, values=None, errors=None):
    """values: level (int or None), topics (list), comment. errors: dict of
    field -> message, shown in a summary announced by screen readers and next
    to each field."""
    t = TEXT[lang]
    values = values or {}
    errors = errors or {}
    level = values.get("level")
    levels = []
    for i, (smiley, label) in enumerate(zip(SMILEYS[scale], t["levels"][scale])):
        checked = " checked" if level == i else ""
        levels.append(
            '<div class="choice"><input type="radio" name="level" id="level-%d" value="%d"%s>'
            '<label for="level-%d"><span class="smiley" aria-hidden="true">%s</span> %s'
            '</label></div>' % (i, i, checked, i, smiley, e(label)))
    chosen = set(values.get("topics") or ())
    topics = []
    for code in TOPICS:
        checked = " checked" if code in chosen else ""
        topics.append(
            '<div class="choice"><input type="checkbox" name="topics" id="topic-%s" '
            'value="%s"%s><label for="topic-%s">%s</label></div>'
            % (code, code, checked, code, e(t["topics"][code])))
    summary = ""
    if errors:
        anchors = {"level": "level-0", "topics": "topic-" + TOPICS[0]}
        items = "".join('<li><a href="#%s">%s</a></li>' % (anchors.get(field, field), e(msg))
                        for field, msg in errors.items())
        summary = ('<div class="errors" role="alert" tabindex="-1" id="errors" autofocus>'
                   '<h2>%s</h2><ul>%s</ul></div>' % (e(t["errors_heading"]), items))

    def field_error(field):
        if field not in errors:
            return ""
        return '<p class="error" id="%s-error">%s%s</p>' % (
            field, e(t["error_prefix"]), e(errors[field]))

    body = _template("feedback_form.html").substitute(
        heading=e(t["title"] % site_name), intro=e(t["intro"]), errors=summary,
        action=e(action), csrf=e(csrf), lang=lang,
        level_invalid=" invalid" if "level" in errors else "",
        level_describedby=' aria-describedby="level-error"' if "level" in errors else "",
        legend_level=e(t["legend_level"]), level_error=field_error("level"),
        levels="\n".join(levels), legend_topics=e(t["legend_topics"]),
        topics="\n".join(topics), comment_label=e(t["comment_label"]),
        comment_hint=e(t["comment_hint"]), comment_error=field_error("comment"),
        max_comment=MAX_COMMENT,
        comment_describedby=" comment-error" if "comment" in errors else "",
        comment_invalid=' aria-invalid="true"' if "comment" in errors else "",
        comment=e(values.get("comment") or ""), submit=e(t["submit"]))
    title = t["title"] % site_name
    if errors:  # the title is read first when the page comes back
        title = t["error_prefix"] + title
    return page(lang, site_name, title, body, action)
