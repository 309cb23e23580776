"""Every text of the web pages (agents' screen, manager view, QR form), in
French (the default) and English, with Babel writing numbers, shares and
dates the way each language does, and the one language picker.

Templates get `t` (the page language's texts), `lang`, and the filters `num`,
`pct`, `day`, `when` and `responses`; handlers pick the language with
`lang_of`."""
import datetime
import zoneinfo
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

LANGS = ("fr", "en")

# What each smiley level is called, per scale (number of buttons); level 0 is
# the least satisfied. One table for the QR form, the screen and the manager view.
LEVEL_NAMES = {
    "fr": {2: ("Pas satisfait", "Satisfait"),
           3: ("Pas satisfait", "Moyennement satisfait", "Satisfait"),
           4: ("Très mécontent", "Mécontent", "Satisfait", "Très satisfait")},
    "en": {2: ("Not satisfied", "Satisfied"),
           3: ("Not satisfied", "Fairly satisfied", "Satisfied"),
           4: ("Very unhappy", "Unhappy", "Satisfied", "Very satisfied")},
}

# Every text as (French, English), side by side so that no text lacks its
# translation; TEXT below splits them into one table per language.
TEXTS: dict[str, tuple[Any, Any]] = {
    "lang_name": ("Français", "English"),
    "colon": ("\u00a0: ", ": "),
    "switch": ("English", "Français"),
    "screen_title": ("Satisfaction des usagers", "User satisfaction"),
    "site_archived": ("Site archivé : il ne recueille plus d'avis, son historique reste "
                      "consultable.",
                      "Archived site: it collects no more opinions, its history stays available."),
    "today": ("Aujourd'hui", "Today"),
    "kiosk": ("Borne", "Kiosk"),
    "qr": ("QR code", "QR code"),
    "mystery": ("Visites mystère", "Mystery visits"),
    "happy_index": ("Indice de satisfaction", "Happy index"),
    "responses": ("réponses", "responses"),
    "response": ("réponse", "response"),
    "no_data": ("Pas encore de données", "No data yet"),
    "too_few": (
        "Pas assez de réponses pour un score (moins de 10)",
        "Too few responses for a score (under 10)"),
    "indicative": ("Indicatif : moins de 100 réponses", "Indicative: under 100 responses"),
    "positive": ("Réponses positives", "Positive responses"),
    "interval": ("intervalle de confiance à 95 %", "95% confidence interval"),
    "filtered": (
        "Réponses écartées (rafales, hors horaires)",
        "Responses set aside (bursts, outside hours)"),
    "yesterday": ("Hier", "Yesterday"),
    "last_week": ("Même jour la semaine dernière", "Same day last week"),
    "comparison": ("Comparaison", "Comparison"),
    "hourly": ("Réponses par heure aujourd'hui", "Responses per hour today"),
    "hourly_label": ("Réponses par heure : %s", "Responses per hour: %s"),
    "levels": ("Répartition des réponses", "Responses by level"),
    "level_names": (LEVEL_NAMES["fr"], LEVEL_NAMES["en"]),
    "health": ("État des bornes", "Kiosk health"),
    "no_kiosk": ("Aucune borne enregistrée", "No kiosk registered"),
    "online": ("en ligne", "online"),
    "offline": ("hors ligne", "offline"),
    "unknown": ("jamais vue", "never seen"),
    "battery_low": ("batterie faible", "low battery"),
    "backlog": ("votes en attente", "votes waiting"),
    "battery": ("batterie", "battery"),
    "last_seen": ("vue", "seen"),
    "comments": ("Derniers commentaires (QR code)", "Latest comments (QR code)"),
    "no_comments": ("Aucun commentaire", "No comments"),
    "mystery_latest": ("Dernières visites mystère", "Latest mystery visits"),
    "no_mystery": ("Aucune visite mystère", "No mystery visit"),
    "compliance": ("conformité", "compliance"),
    "shrunk": (
        "Score ajusté vers la moyenne du réseau (%d réponses fictives à %s)",
        "Score adjusted toward the network mean (%d virtual responses at %s)"),
    "updated": ("Mis à jour à", "Updated at"),
    "live": ("En direct", "Live"),
    "reconnecting": ("Reconnexion…", "Reconnecting…"),
    "points": ("pts", "pts"),
    "forbidden_title": ("Accès refusé", "Access denied"),
    "forbidden": (
        "Ce lien d'écran n'est pas ou plus valable. Demandez un nouveau lien à votre "
        "responsable qualité, ou connectez-vous.",
        "This screen link is not valid or no longer valid. Ask your quality manager for a new "
        "link, or log in."),
    "notfound_title": ("Site inconnu", "Unknown site"),
    "notfound": ("Aucun site ne porte cet identifiant.", "No site has this id."),
    "bad_request": ("Requête invalide", "Bad request"),
    # manager view
    "manager_title": ("Satisfaction par site", "Satisfaction by site"),
    "login_title": ("Connexion responsable", "Manager login"),
    "username": ("Identifiant", "User name"),
    "password": ("Mot de passe", "Password"),
    "login": ("Se connecter", "Log in"),
    "logout": ("Se déconnecter", "Log out"),
    "login_failed": ("Identifiant ou mot de passe incorrect.", "Wrong user name or password."),
    "login_wait": ("Trop de tentatives : réessayez dans %d s.",
                   "Too many attempts: try again in %d s."),
    "from": ("Du", "From"),
    "to": ("au", "to"),
    "show": ("Afficher", "Show"),
    "source": ("Source", "Source"),
    "ranking": ("Classement", "Ranking"),
    "rank": ("Rang", "Rank"),
    "site": ("Site", "Site"),
    "status": ("Statut", "Status"),
    "status_names": (
        {"ok": "fiable", "indicative": "indicatif", "insufficient": "insuffisant"},
        {"ok": "reliable", "indicative": "indicative", "insufficient": "insufficient"}),
    "csv": ("Exporter en CSV", "Export as CSV"),
    "fw_title": ("Micrologiciel des bornes", "Kiosk firmware"),
    "fw_link": ("Micrologiciel des bornes", "Kiosk firmware"),
    "fw_rollouts": ("Déploiements", "Rollouts"),
    "fw_none": ("Aucun déploiement.", "No rollout."),
    "fw_rollout": ("N°", "No."),
    "fw_version": ("Version", "Version"),
    "fw_cohort": ("Bornes visées", "Cohort"),
    "fw_kiosks": ("Bornes", "Kiosks"),
    "fw_done": ("À jour", "Updated"),
    "fw_failed": ("En échec", "Failed"),
    "fw_state": ("État", "State"),
    "fw_kiosk": ("Borne", "Kiosk"),
    "fw_progress": ("Téléchargé", "Downloaded"),
    "fw_error": ("Motif", "Reason"),
    "fw_states": (
        {"idle": "aucune mise à jour", "downloading": "téléchargement",
         "installed": "installée, redémarrage", "trial": "à l'essai", "ok": "à jour",
         "refused": "refusée", "failed": "échec", "rolled_back": "revenue à l'ancienne",
         "active": "en cours", "stopped": "arrêté"},
        {"idle": "no update", "downloading": "downloading", "installed": "installed, restarting",
         "trial": "on trial", "ok": "up to date", "refused": "refused", "failed": "failed",
         "rolled_back": "rolled back", "active": "active", "stopped": "stopped"}),
    "daily": ("Jour par jour", "Day by day"),
    "day": ("Jour", "Day"),
    "composite": ("Indice composite", "Composite index"),
    "composite_missing": ("données insuffisantes", "insufficient data"),
    "weights": ("pondérations", "weights"),
    "previous": ("Période précédente", "Previous period"),
    "back": ("Retour au classement", "Back to the ranking"),
    "screen_link": ("Écran de l'accueil", "Desk screen"),
    "method": ("Méthode de calcul : voir METHOD.md", "How figures are computed: see METHOD.md"),
    "insufficient": ("insuffisant", "insufficient"),
    "channels": (
        {"desk": "Accueil", "phone": "Téléphone", "email": "Courriel", "letter": "Courrier",
         "social": "Réseaux sociaux", "website": "Site web"},
        {"desk": "Desk", "phone": "Phone", "email": "E-mail", "letter": "Letter",
         "social": "Social networks", "website": "Website"}),
    "failed": ("non conformes", "failed"),
    "checks": ("contrôles applicables", "applicable checks"),
    "shrink_option": ("Ajuster vers la moyenne du réseau", "Adjust toward the network mean"),
    "channel": ("Canal", "Channel"),
    "criterion": ("Critère", "Criterion"),
    "passes": ("Conformes", "Pass"),
    "fails": ("Non conformes", "Fail"),
    "na": ("Sans objet", "Not applicable"),
    "within": ("Dans le délai", "Within target"),
    "rate": ("Taux", "Rate"),
    "median": ("Médiane", "Median"),
    "timeliness": ("Délais", "Timeliness"),
    # QR form
    "qr_title": ("Votre avis sur %s", "Your opinion of %s"),
    "intro": (
        "Comment s'est passé votre contact avec le service ? Votre réponse est anonyme.",
        "How was your contact with the service? Your answer is anonymous."),
    "legend_level": ("Votre satisfaction (obligatoire)", "Your satisfaction (required)"),
    "legend_topics": (
        "Sur quoi porte votre avis ? (facultatif)",
        "What is your opinion about? (optional)"),
    "topics": (
        {"accueil": "Accueil", "attente": "Temps d'attente", "information": "Information",
         "accessibilite": "Accessibilité", "courtoisie": "Courtoisie", "efficacite": "Efficacité"},
        {"accueil": "Welcome", "attente": "Waiting time", "information": "Information",
         "accessibilite": "Accessibility", "courtoisie": "Courtesy", "efficacite": "Efficiency"}),
    "comment_label": (
        "Commentaire (facultatif, 1 000 caractères au plus)",
        "Comment (optional, at most 1,000 characters)"),
    "comment_hint": (
        "N'indiquez ni nom, ni adresse électronique, ni numéro de téléphone.",
        "Please give no name, email address or phone number."),
    "submit": ("Envoyer mon avis", "Send my opinion"),
    "errors_heading": ("Votre avis n'a pas été envoyé :", "Your opinion was not sent:"),
    "error_prefix": ("Erreur : ", "Error: "),
    "level_missing": (
        "choisissez votre niveau de satisfaction.",
        "choose your level of satisfaction."),
    "level_bad": (
        "le niveau de satisfaction reçu n'existe pas.",
        "the level of satisfaction received does not exist."),
    "topic_bad": ("un thème reçu n'existe pas.", "a topic received does not exist."),
    "comment_long": (
        "le commentaire fait %d caractères ; 1 000 au plus.",
        "the comment has %d characters; at most 1,000."),
    "comment_chars": (
        "le commentaire contient des caractères de contrôle non autorisés.",
        "the comment contains control characters that are not allowed."),
    "thanks_title": ("Merci !", "Thank you!"),
    "thanks": (
        "Votre avis a bien été enregistré. Il aide le service à s'améliorer.",
        "Your opinion has been recorded. It helps the service improve."),
    "again_title": ("Avis déjà donné", "Opinion already given"),
    "again": (
        "Vous avez déjà donné votre avis sur ce service il y a moins d'une heure. Merci ! Vous "
        "pourrez en donner un nouveau plus tard.",
        "You already gave your opinion of this service less than an hour ago. Thank you! You "
        "can give a new one later."),
    "answered": (
        "Cette réponse a déjà été enregistrée. Merci ! Un avis ne compte qu'une fois.",
        "This answer has already been recorded. Thank you! An opinion counts only once."),
    "qr_rate_title": ("Trop de réponses", "Too many answers"),
    "qr_rate": (
        "Trop de réponses viennent de votre connexion. Réessayez dans une heure.",
        "Too many answers come from your connection. Try again in an hour."),
    "qr_notfound_title": ("Code QR inconnu", "Unknown QR code"),
    "qr_notfound": (
        "Ce code QR n'est pas ou plus valable. Demandez à l'accueil le code à jour.",
        "This QR code is not or no longer valid. Ask the front desk for the current one."),
    "bad_title": ("Réponse refusée", "Answer refused"),
    "csrf": (
        "Le formulaire a expiré ou n'a pas été envoyé depuis cette page. Rechargez la page et "
        "recommencez (les cookies doivent être acceptés).",
        "The form has expired or was not sent from this page. Reload the page and try again "
        "(cookies must be accepted)."),
    "too_large": ("La réponse envoyée est trop volumineuse.", "The answer sent is too large."),
    "malformed_utf8": (
        "La réponse envoyée est illisible : elle n'est pas en UTF-8.",
        "The answer sent cannot be read: it is not UTF-8."),
    "malformed_fields": (
        "La réponse envoyée est illisible : champs en trop ou mal formés.",
        "The answer sent cannot be read: too many or malformed fields."),
}
TEXT: dict[str, dict[str, Any]] = {
    lang: {key: pair[i] for key, pair in TEXTS.items()} for i, lang in enumerate(LANGS)}


PERIOD_ERRORS = {
    "fr": {"bad_date": "La date de %s doit s'écrire AAAA-MM-JJ.",
           "order": "La date de début doit précéder la date de fin.",
           "too_long": "La période doit faire moins de %d jours.",
           "out_of_range": "La date de %s doit être comprise entre %d et %d."},
    "en": {"bad_date": "The %s date must be written YYYY-MM-DD.",
           "order": "The start date must not be after the end date.",
           "too_long": "The period must be shorter than %d days.",
           "out_of_range": "The %s date must be between %d and %d."},
}
PERIOD_FIELDS = {"fr": {"from": "début", "to": "fin"}, "en": {"from": "start", "to": "end"}}


def pick_lang(value: object) -> str:
    """A supported language code; French for anything else."""
    return value if isinstance(value, str) and value in LANGS else "fr"


def lang_of(request: web.Request) -> str:
    """The page's language: `lang=` in the query, French by default."""
    return pick_lang(request.query.get("lang"))


def other_lang(lang: str) -> str:
    return "en" if lang == "fr" else "fr"


def switch_url(request: web.Request, lang: str, keep: tuple[str, ...] | None = None) -> str:
    """This page in the other language: the language picker of every page.
    `keep` limits the query parameters carried over (None keeps them all)."""
    q = {k: v for k, v in request.query.items() if keep is None or k in keep}
    q["lang"] = other_lang(lang)
    return "%s?%s" % (request.path, urlencode(q))


def period_error(err: Any, lang: str) -> str:
    """A PeriodError in the page's language."""
    args = tuple(PERIOD_FIELDS[lang].get(a, a) if isinstance(a, str) else a
                 for a in err.args_)
    return PERIOD_ERRORS[lang][err.code] % args


def plural(n: int, lang: str) -> bool:
    """French puts 0 and 1 in the singular, English only 1."""
    return n > 1 if lang == "fr" else n != 1


def responses(n: int, lang: str) -> str:
    """'0 réponse', '12 réponses'; '0 responses', '1 response'."""
    t = TEXT[lang]
    return "%d %s" % (n, t["responses"] if plural(n, lang) else t["response"])


def fmt_num(x: float | None, lang: str, digits: int = 0) -> str:
    """A number in the language's style (French: comma decimal), '—' if none."""
    if x is None:
        return "—"
    return format_decimal(x, format="0." + "0" * digits if digits else "0", locale=lang)


def fmt_pct(share: float | None, lang: str) -> str:
    """A share as a whole percentage: '71 %' in French, '71%' in English."""
    if share is None:
        return "—"
    return format_percent(share, locale=lang)


def fmt_day(day: datetime.date | str, lang: str) -> str:
    """A date (or its ISO text) written out: 'lundi 23 novembre 2026' /
    'Monday 23 November 2026'."""
    if isinstance(day, str):
        day = datetime.date.fromisoformat(day)
    return format_date(day, "EEEE d MMMM y", locale=lang)


def fmt_when(value: int | str | None, lang: str, tz: str = "UTC") -> str:
    """A moment as day/month and time: '13/11 14:00' in French, '11/13 14:00'
    in English. `value` is UTC milliseconds (shown in the zone `tz`) or a
    local 'YYYY-MM-DD HH:MM' text."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            moment = datetime.datetime.strptime(value[:16], "%Y-%m-%d %H:%M")
        except ValueError:
            return value
    else:
        moment = datetime.datetime.fromtimestamp(value / 1000, zoneinfo.ZoneInfo(tz))
    return format_datetime(moment, "dd/MM HH:mm" if lang == "fr" else "MM/dd HH:mm",
                           tzinfo=moment.tzinfo, locale=lang)
