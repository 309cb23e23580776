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

TEXT: dict[str, dict[str, Any]] = {
    "fr": {
        "lang_name": "Français",
        "colon": "\u00a0: ",
        "switch": "English",
        "screen_title": "Satisfaction des usagers",
        "today": "Aujourd'hui",
        "kiosk": "Borne",
        "qr": "QR code",
        "mystery": "Visites mystère",
        "happy_index": "Indice de satisfaction",
        "responses": "réponses",
        "response": "réponse",
        "no_data": "Pas encore de données",
        "too_few": "Pas assez de réponses pour un score (moins de 10)",
        "indicative": "Indicatif : moins de 100 réponses",
        "positive": "Réponses positives",
        "interval": "intervalle de confiance à 95 %",
        "filtered": "Réponses écartées (rafales, hors horaires)",
        "yesterday": "Hier",
        "last_week": "Même jour la semaine dernière",
        "comparison": "Comparaison",
        "hourly": "Réponses par heure aujourd'hui",
        "hourly_label": "Réponses par heure : %s",
        "levels": "Répartition des réponses",
        "level_names": LEVEL_NAMES["fr"],
        "health": "État des bornes",
        "no_kiosk": "Aucune borne enregistrée",
        "online": "en ligne",
        "offline": "hors ligne",
        "unknown": "jamais vue",
        "battery_low": "batterie faible",
        "backlog": "votes en attente",
        "battery": "batterie",
        "last_seen": "vue",
        "comments": "Derniers commentaires (QR code)",
        "no_comments": "Aucun commentaire",
        "mystery_latest": "Dernières visites mystère",
        "no_mystery": "Aucune visite mystère",
        "compliance": "conformité",
        "shrunk": "Score ajusté vers la moyenne du réseau (%d réponses fictives à %s)",
        "updated": "Mis à jour à",
        "live": "En direct",
        "reconnecting": "Reconnexion…",
        "points": "pts",
        "forbidden_title": "Accès refusé",
        "forbidden": "Ce lien d'écran n'est pas ou plus valable. Demandez un nouveau lien "
                     "à votre responsable qualité, ou connectez-vous.",
        "notfound_title": "Site inconnu",
        "notfound": "Aucun site ne porte cet identifiant.",
        "bad_request": "Requête invalide",
        # manager view
        "manager_title": "Satisfaction par site",
        "login_title": "Connexion responsable",
        "username": "Identifiant",
        "password": "Mot de passe",
        "login": "Se connecter",
        "logout": "Se déconnecter",
        "login_failed": "Identifiant ou mot de passe incorrect.",
        "from": "Du",
        "to": "au",
        "show": "Afficher",
        "source": "Source",
        "ranking": "Classement",
        "rank": "Rang",
        "site": "Site",
        "status": "Statut",
        "status_names": {"ok": "fiable", "indicative": "indicatif",
                         "insufficient": "insuffisant"},
        "csv": "Exporter en CSV",
        "daily": "Jour par jour",
        "day": "Jour",
        "composite": "Indice composite",
        "composite_missing": "données insuffisantes",
        "weights": "pondérations",
        "previous": "Période précédente",
        "back": "Retour au classement",
        "screen_link": "Écran de l'accueil",
        "method": "Méthode de calcul : voir METHOD.md",
        "insufficient": "insuffisant",
        "channels": {"desk": "Accueil", "phone": "Téléphone", "email": "Courriel",
                     "letter": "Courrier", "social": "Réseaux sociaux", "website": "Site web"},
        "failed": "non conformes",
        "checks": "contrôles applicables",
        "shrink_option": "Ajuster vers la moyenne du réseau",
        "channel": "Canal",
        "criterion": "Critère",
        "passes": "Conformes",
        "fails": "Non conformes",
        "na": "Sans objet",
        "within": "Dans le délai",
        "rate": "Taux",
        "median": "Médiane",
        "timeliness": "Délais",
        # QR form
        "qr_title": "Votre avis sur %s",
        "intro": "Comment s'est passé votre contact avec le service ? "
                 "Votre réponse est anonyme.",
        "legend_level": "Votre satisfaction (obligatoire)",
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
        "qr_rate_title": "Trop de réponses",
        "qr_rate": "Trop de réponses viennent de votre connexion. Réessayez dans une heure.",
        "qr_notfound_title": "Code QR inconnu",
        "qr_notfound": "Ce code QR n'est pas ou plus valable. Demandez à l'accueil le code à jour.",
        "bad_title": "Réponse refusée",
        "csrf": "Le formulaire a expiré ou n'a pas été envoyé depuis cette page. "
                "Rechargez la page et recommencez (les cookies doivent être acceptés).",
        "too_large": "La réponse envoyée est trop volumineuse.",
        "malformed_utf8": "La réponse envoyée est illisible : elle n'est pas en UTF-8.",
        "malformed_fields": "La réponse envoyée est illisible : champs en trop ou mal formés.",
    },
    "en": {
        "lang_name": "English",
        "colon": ": ",
        "switch": "Français",
        "screen_title": "User satisfaction",
        "today": "Today",
        "kiosk": "Kiosk",
        "qr": "QR code",
        "mystery": "Mystery visits",
        "happy_index": "Happy index",
        "responses": "responses",
        "response": "response",
        "no_data": "No data yet",
        "too_few": "Too few responses for a score (under 10)",
        "indicative": "Indicative: under 100 responses",
        "positive": "Positive responses",
        "interval": "95% confidence interval",
        "filtered": "Responses set aside (bursts, outside hours)",
        "yesterday": "Yesterday",
        "last_week": "Same day last week",
        "comparison": "Comparison",
        "hourly": "Responses per hour today",
        "hourly_label": "Responses per hour: %s",
        "levels": "Responses by level",
        "level_names": LEVEL_NAMES["en"],
        "health": "Kiosk health",
        "no_kiosk": "No kiosk registered",
        "online": "online",
        "offline": "offline",
        "unknown": "never seen",
        "battery_low": "low battery",
        "backlog": "votes waiting",
        "battery": "battery",
        "last_seen": "seen",
        "comments": "Latest comments (QR code)",
        "no_comments": "No comments",
        "mystery_latest": "Latest mystery visits",
        "no_mystery": "No mystery visit",
        "compliance": "compliance",
        "shrunk": "Score adjusted toward the network mean (%d virtual responses at %s)",
        "updated": "Updated at",
        "live": "Live",
        "reconnecting": "Reconnecting…",
        "points": "pts",
        "forbidden_title": "Access denied",
        "forbidden": "This screen link is not valid or no longer valid. Ask your quality "
                     "manager for a new link, or log in.",
        "notfound_title": "Unknown site",
        "notfound": "No site has this id.",
        "bad_request": "Bad request",
        "manager_title": "Satisfaction by site",
        "login_title": "Manager login",
        "username": "User name",
        "password": "Password",
        "login": "Log in",
        "logout": "Log out",
        "login_failed": "Wrong user name or password.",
        "from": "From",
        "to": "to",
        "show": "Show",
        "source": "Source",
        "ranking": "Ranking",
        "rank": "Rank",
        "site": "Site",
        "status": "Status",
        "status_names": {"ok": "reliable", "indicative": "indicative",
                         "insufficient": "insufficient"},
        "csv": "Export as CSV",
        "daily": "Day by day",
        "day": "Day",
        "composite": "Composite index",
        "composite_missing": "insufficient data",
        "weights": "weights",
        "previous": "Previous period",
        "back": "Back to the ranking",
        "screen_link": "Desk screen",
        "method": "How figures are computed: see METHOD.md",
        "insufficient": "insufficient",
        "channels": {"desk": "Desk", "phone": "Phone", "email": "E-mail",
                     "letter": "Letter", "social": "Social networks", "website": "Website"},
        "failed": "failed",
        "checks": "applicable checks",
        "shrink_option": "Adjust toward the network mean",
        "channel": "Channel",
        "criterion": "Criterion",
        "passes": "Pass",
        "fails": "Fail",
        "na": "Not applicable",
        "within": "Within target",
        "rate": "Rate",
        "median": "Median",
        "timeliness": "Timeliness",
        # QR form
        "qr_title": "Your opinion of %s",
        "intro": "How was your contact with the service? Your answer is anonymous.",
        "legend_level": "Your satisfaction (required)",
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
        "qr_rate_title": "Too many answers",
        "qr_rate": "Too many answers come from your connection. Try again in an hour.",
        "qr_notfound_title": "Unknown QR code",
        "qr_notfound": "This QR code is not or no longer valid. Ask the front desk for the "
                    "current one.",
        "bad_title": "Answer refused",
        "csrf": "The form has expired or was not sent from this page. Reload the page and "
                "try again (cookies must be accepted).",
        "too_large": "The answer sent is too large.",
        "malformed_utf8": "The answer sent cannot be read: it is not UTF-8.",
        "malformed_fields": "The answer sent cannot be read: too many or malformed fields.",
    },
}


PERIOD_ERRORS = {
    "fr": {"bad_date": "La date de %s doit s'écrire AAAA-MM-JJ.",
           "order": "La date de début doit précéder la date de fin.",
           "too_long": "La période doit faire moins de %d jours."},
    "en": {"bad_date": "The %s date must be written YYYY-MM-DD.",
           "order": "The start date must not be after the end date.",
           "too_long": "The period must be shorter than %d days."},
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
