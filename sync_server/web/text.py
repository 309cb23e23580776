"""Texts of the agents' screen and the manager view, in French (default) and
English."""
from sync_server.web.level_names import LEVEL_NAMES

LANGS = ("fr", "en")

TEXT = {
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


def period_error(err, lang):
    """A PeriodError in the page's language."""
    args = tuple(PERIOD_FIELDS[lang].get(a, a) if isinstance(a, str) else a
                 for a in err.args_)
    return PERIOD_ERRORS[lang][err.code] % args


def plural(n, t):
    """French puts 0 and 1 in the singular, English only 1."""
    return n > 1 if t is TEXT["fr"] else n != 1


def responses(n, t):
    """'0 réponse', '12 réponses'; '0 responses', '1 response'."""
    return "%d %s" % (n, t["responses"] if plural(n, t) else t["response"])


def lang_of(request):
    lang = request.query.get("lang", "fr")
    return lang if lang in LANGS else "fr"


def fmt_num(x, lang, digits=0):
    """A number in the language's style (French: comma decimal)."""
    if x is None:
        return "—"
    s = ("%%.%df" % digits) % x
    return s.replace(".", ",") if lang == "fr" else s


def fmt_pct(share, lang):
    if share is None:
        return "—"
    return fmt_num(100 * share, lang) + ("\u00a0%" if lang == "fr" else "%")


WEEKDAYS = {"fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
            "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                   "Sunday")}
MONTHS = {"fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                 "septembre", "octobre", "novembre", "décembre"),
          "en": ("January", "February", "March", "April", "May", "June", "July", "August",
                 "September", "October", "November", "December")}


def fmt_day(day, lang):
    """A date written out: 'lundi 23 novembre 2026' / 'Monday 23 November 2026'."""
    return "%s %d %s %d" % (WEEKDAYS[lang][day.weekday()], day.day,
                            MONTHS[lang][day.month - 1], day.year)
