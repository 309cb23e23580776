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
    # the agents' pages (team link): polls and idea box
    "team_forbidden": (
        "Ce lien d'équipe n'est pas ou plus valable. Demandez le nouveau lien à votre "
        "responsable.",
        "This team link is not valid or no longer valid. Ask your manager for the new link."),
    "team_title": ("La parole des agents", "The agents' voice"),
    "team_intro": (
        "Questionnaires internes et boîte à idées de votre site. Vos réponses sont anonymes : "
        "ni nom, ni adresse, ni appareil ne sont enregistrés, et un résultat n'est montré qu'à "
        "partir de 5 répondants.",
        "Internal polls and idea box of your site. Your answers are anonymous: no name, address "
        "or device is recorded, and a result is shown only from 5 respondents."),
    "team_back": ("Retour à l'accueil de l'équipe", "Back to the team page"),
    "polls_open": ("Questionnaires en cours", "Open polls"),
    "no_polls": ("Aucun questionnaire en cours.", "No open poll."),
    "poll_until": ("Jusqu'au %s", "Until %s"),
    "poll_questions": ("%d questions", "%d questions"),
    "poll_start": ("Répondre (moins de 30 secondes)", "Answer (under 30 seconds)"),
    "poll_answered_short": ("Vous avez répondu. Merci !", "You have answered. Thank you!"),
    "poll_thanks": ("Merci ! Votre réponse est enregistrée, anonymement.",
                    "Thank you! Your answer is recorded, anonymously."),
    "poll_step": ("Question %d sur %d", "Question %d of %d"),
    "poll_levels": (("Pas du tout", "Plutôt non", "Plutôt oui", "Tout à fait"),
                    ("Not at all", "Rather not", "Rather yes", "Absolutely")),
    "poll_next": ("Suivant", "Next"),
    "poll_send": ("Envoyer", "Send"),
    "poll_back": ("Précédent", "Back"),
    "poll_anonymous": (
        "Réponse anonyme. Résultats publiés à la clôture, à partir de 5 répondants.",
        "Anonymous answer. Results published at closing, from 5 respondents."),
    "poll_text_hint": (
        "Facultatif. N'indiquez ni nom, ni adresse électronique, ni numéro de téléphone : le "
        "texte est relu avant d'être publié.",
        "Optional. Give no name, e-mail address or phone number: the text is read before it "
        "is published."),
    "poll_choose": ("choisissez une réponse.", "choose an answer."),
    "poll_bad_choice": ("la réponse reçue n'existe pas.", "the answer received does not exist."),
    "poll_text_long": ("le texte fait plus de 1 000 caractères.",
                       "the text has more than 1,000 characters."),
    "poll_text_chars": ("le texte contient des caractères de contrôle non autorisés.",
                        "the text contains control characters that are not allowed."),
    "poll_closed_title": ("Questionnaire fermé", "Poll closed"),
    "poll_closed": ("Ce questionnaire n'est pas ou plus ouvert pour votre site.",
                    "This poll is not or no longer open for your site."),
    "poll_answered_title": ("Déjà répondu", "Already answered"),
    "poll_answered": (
        "Vous avez déjà répondu à ce questionnaire depuis cet appareil. Merci !",
        "You have already answered this poll from this device. Thank you!"),
    "ideas_title": ("Boîte à idées", "Idea box"),
    "ideas_open": ("Proposer ou soutenir une idée", "Propose or support an idea"),
    "ideas_answered": ("Dernières idées ayant reçu une réponse", "Latest ideas answered"),
    "ideas_list": ("Idées de l'équipe", "The team's ideas"),
    "no_ideas": ("Aucune idée publiée pour l'instant.", "No idea published yet."),
    "idea_statuses": (
        {"new": "Nouvelle", "under_study": "À l'étude", "planned": "Prévue", "done": "Réalisée",
         "not_retained": "Non retenue"},
        {"new": "New", "under_study": "Under study", "planned": "Planned", "done": "Done",
         "not_retained": "Not retained"}),
    "idea_reason": ("Réponse du responsable", "Manager's answer"),
    "idea_supports": ("%d soutien(s)", "%d support(s)"),
    "idea_support": ("Je soutiens (+1)", "I support (+1)"),
    "idea_supported": ("Vous soutenez cette idée.", "You support this idea."),
    "idea_new_label": ("Votre idée pour améliorer le service", "Your idea to improve the service"),
    "idea_hint": (
        "Anonyme. Relue avant publication ; n'indiquez ni nom, ni adresse électronique, ni "
        "numéro de téléphone (1 000 caractères au plus).",
        "Anonymous. Read before it is published; give no name, e-mail address or phone number "
        "(at most 1,000 characters)."),
    "idea_submit": ("Envoyer mon idée", "Send my idea"),
    "idea_posted": ("Merci ! Votre idée sera publiée après relecture.",
                    "Thank you! Your idea will be published once read."),
    "idea_empty": ("écrivez votre idée.", "write your idea."),
    "idea_long": ("l'idée fait plus de 1 000 caractères.",
                  "the idea has more than 1,000 characters."),
    "idea_chars": ("le texte contient des caractères de contrôle non autorisés.",
                   "the text contains control characters that are not allowed."),
    # the manager's side of the agents' voice
    "voice_title": ("La parole des agents", "The agents' voice"),
    "polls_title": ("Questionnaires internes", "Internal polls"),
    "ideas_manage": ("Boîte à idées des agents", "Staff idea box"),
    "polls_rules": (
        "Résultats à la clôture seulement, par site et pour tous les sites, à partir de 5 "
        "répondants ; un site est aussi masqué quand il permettrait de déduire un groupe plus "
        "petit. Les réponses libres sont publiées après relecture.",
        "Results only once closed, per site and for all sites, from 5 respondents; a site is "
        "also hidden when it would let a smaller group be deduced. Free answers are published "
        "after review."),
    "poll_name": ("Questionnaire", "Poll"),
    "poll_dates": ("Dates", "Dates"),
    "poll_sites": ("Sites", "Sites"),
    "poll_respondents": ("Répondants", "Respondents"),
    "poll_respondents_n": ("%d répondant(s)", "%d respondent(s)"),
    "poll_states": ({"draft": "brouillon", "open": "ouvert", "closed": "clos"},
                    {"draft": "draft", "open": "open", "closed": "closed"}),
    "no_polls_yet": ("Aucun questionnaire. Créez-en un avec `borne poll create`.",
                     "No poll yet. Create one with `borne poll create`."),
    "poll_not_closed": (
        "Questionnaire en cours : seul le nombre de répondants est affiché jusqu'à la clôture.",
        "Poll open: only the number of respondents is shown until it closes."),
    "poll_all_sites": ("Tous les sites", "All sites"),
    "poll_hidden": (
        "Pas assez de réponses pour protéger l'anonymat (moins de 5, ou un groupe plus petit "
        "pourrait être déduit).",
        "Not enough answers to protect anonymity (under 5, or a smaller group could be "
        "deduced)."),
    "poll_question": ("Question", "Question"),
    "poll_answers": ("Réponses", "Answers"),
    "poll_texts_published": ("Réponses libres publiées", "Published free answers"),
    "poll_texts_pending": ("Réponses libres à relire", "Free answers to review"),
    "approve": ("Publier", "Publish"),
    "reject": ("Refuser", "Refuse"),
    "nothing_pending": ("Rien à relire.", "Nothing to review."),
    "idea_moderation": (
        {"pending": "à relire", "approved": "publiée", "rejected": "refusée"},
        {"pending": "to review", "approved": "published", "rejected": "refused"}),
    "idea_answer": ("Répondre", "Answer"),
    "idea_answer_status": ("choisissez un statut.", "choose a status."),
    "idea_answer_empty": ("écrivez la raison de votre réponse.",
                          "write the reason for your answer."),
    "idea_answer_long": ("la raison fait plus de 1 000 caractères.",
                         "the reason has more than 1,000 characters."),
    "idea_answer_chars": ("la raison contient des caractères de contrôle non autorisés.",
                          "the reason contains control characters that are not allowed."),
    "mirror_title": ("Miroir agents et usagers", "Mirror: agents and users"),
    "mirror_link": ("Miroir agents et usagers", "Mirror: agents and users"),
    "mirror_intro": (
        "Par critère : part des réponses positives des agents (questionnaires clos de la "
        "période), des usagers à la borne et par QR code (thèmes du critère), et conformité "
        "des visites mystère de l'étape, avec l'intervalle de confiance à 95 %. Un écart est "
        "significatif quand les intervalles ne se recouvrent pas.",
        "Per criterion: share of positive answers of the agents (polls closed in the period), "
        "of users at the kiosk and by QR code (the criterion's topics), and compliance of the "
        "mystery visits of that step, with the 95% confidence interval. A gap is significant "
        "when the intervals do not overlap."),
    "mirror_chart": ("Parts positives et intervalles par critère",
                     "Positive shares and intervals per criterion"),
    "mirror_legend": (
        "Point : part ; trait : intervalle à 95 % ; ≠ : écart significatif avec les agents.",
        "Dot: share; line: 95% interval; ≠: significant gap with the agents."),
    "mirror_table": ("Le miroir en chiffres", "The mirror in figures"),
    "mirror_parts": (
        {"agents": "Agents", "kiosk": "Usagers (borne)", "qr": "Usagers (QR, thèmes)",
         "mystery": "Visites mystère"},
        {"agents": "Agents", "kiosk": "Users (kiosk)", "qr": "Users (QR, topics)",
         "mystery": "Mystery visits"}),
    "gap_significant": ("écart significatif", "significant gap"),
    "mirror_polls": ("%d questionnaire(s) clos dans la période",
                     "%d poll(s) closed in the period"),
    # alerts (manager view and the banner of the agents' screen)
    "alerts_title": ("Alertes", "Alerts"),
    "alerts_none": ("Aucune alerte.", "No alerts."),
    "alert_kind": ("Alerte", "Alert"),
    "alert_state": ("État", "State"),
    "alert_since": ("Depuis", "Since"),
    "alert_kiosk": ("Borne", "Kiosk"),
    "alert_detail": ("Détail", "Detail"),
    "alert_ack": ("Prendre en compte", "Acknowledge"),
    "alert_states": ({"open": "ouverte", "acknowledged": "prise en compte", "resolved": "terminée"},
                     {"open": "open", "acknowledged": "acknowledged", "resolved": "resolved"}),
    "alert_kinds": ({"spike": "pic d'insatisfaction", "offline": "borne hors ligne",
                     "silent": "borne silencieuse (aucun vote)", "battery": "batterie faible",
                     "backlog": "votes en attente d'envoi", "dropped": "votes perdus par la borne",
                     "clock": "horloge de la borne inconnue",
                     "day_low": "journée très en dessous de l'habitude"},
                    {"spike": "dissatisfaction spike", "offline": "kiosk offline",
                     "silent": "kiosk silent (no vote)", "battery": "low battery",
                     "backlog": "votes waiting to be sent", "dropped": "votes dropped by the kiosk",
                     "clock": "kiosk clock unknown", "day_low": "day far below the usual level"}),
    "alert_not_open_title": ("Alerte déjà traitée", "Alert already handled"),
    "alert_not_open": ("Cette alerte n'est plus ouverte : elle a déjà été prise en compte ou "
                       "s'est terminée.",
                       "This alert is no longer open: it was already acknowledged or is over."),
    "alert_banner": ("Alerte en cours sur ce site", "Alert on this site"),
    # public consultations: the phone page
    "cons_intro": ("Consultation publique : votre réponse est anonyme et ne compte qu'une fois.",
                   "Public consultation: your answer is anonymous and counts once."),
    "cons_legend": ("Votre réponse (obligatoire)", "Your answer (required)"),
    "cons_site_label": ("Où êtes-vous ? (obligatoire)", "Where are you? (required)"),
    "cons_site_pick": ("Choisissez un lieu", "Choose a place"),
    "cons_site_missing": ("choisissez le lieu où vous répondez.",
                          "choose the place where you answer."),
    "cons_idea_label": ("Votre idée (facultatif, 1 000 caractères au plus)",
                        "Your idea (optional, at most 1,000 characters)"),
    "cons_idea_hint": (
        "Elle sera publiée après relecture. N'indiquez ni nom, ni adresse électronique, ni "
        "numéro de téléphone.",
        "It will be published after review. Please give no name, email address or phone "
        "number."),
    "cons_submit": ("Envoyer ma réponse", "Send my answer"),
    "cons_errors_heading": ("Votre réponse n'a pas été envoyée :", "Your answer was not sent:"),
    "cons_answer_missing": ("choisissez une réponse.", "choose an answer."),
    "cons_answer_bad": ("la réponse reçue n'existe pas.", "the answer received does not exist."),
    "cons_no_ideas": ("cette consultation ne recueille pas d'idées.",
                      "this consultation does not collect ideas."),
    "cons_idea_long": ("l'idée fait %d caractères ; 1 000 au plus.",
                       "the idea has %d characters; at most 1,000."),
    "cons_thanks": ("Votre réponse a bien été enregistrée. Merci de votre participation !",
                    "Your answer has been recorded. Thank you for taking part!"),
    "cons_thanks_idea": (
        "Votre réponse a bien été enregistrée. Votre idée sera publiée après relecture. Merci !",
        "Your answer has been recorded. Your idea will be published after review. Thank you!"),
    "cons_answered": ("Vous avez déjà répondu à cette consultation depuis ce téléphone. Merci !",
                      "You have already answered this consultation from this phone. Thank you!"),
    "cons_again": ("Une seule réponse par téléphone : la vôtre est déjà enregistrée. Merci !",
                   "One answer per phone: yours is already recorded. Thank you!"),
    "cons_not_running": ("Cette consultation ne reçoit pas de réponses en ce moment.",
                         "This consultation is not taking answers at the moment."),
    "cons_closed_title": ("Consultation fermée", "Consultation closed"),
    "cons_closed": ("Cette consultation ne reçoit plus de réponses.",
                    "This consultation no longer takes answers."),
    "cons_notfound_title": ("Consultation inconnue", "Unknown consultation"),
    "cons_notfound": ("Ce lien de consultation n'est pas ou plus valable.",
                      "This consultation link is not or no longer valid."),
    "cons_back": ("Retour à la consultation", "Back to the consultation"),
    "cons_ideas_title": ("Idées publiées", "Published ideas"),
    "cons_no_idea_yet": ("Aucune idée publiée pour l'instant.", "No idea published yet."),
    "cons_supports": ("Soutiens : %d", "Supports: %d"),
    "cons_support": ("Soutenir cette idée (+1)", "Support this idea (+1)"),
    "cons_you_support": ("Vous soutenez cette idée.", "You support this idea."),
    "cons_supported_title": ("Idée déjà soutenue", "Idea already supported"),
    "cons_supported": ("Vous soutenez déjà cette idée : un soutien par téléphone.",
                       "You already support this idea: one support per phone."),
    "cons_idea_unknown": ("Cette idée n'est pas publiée.", "This idea is not published."),
    "cons_see_results": ("Voir les résultats", "See the results"),
    "cons_preview_note": ("Aperçu : la page telle que les citoyens la verront (envoi désactivé).",
                          "Preview: the page as citizens will see it (sending disabled)."),
    # public consultations: the managers' pages and the results
    "cons_list_title": ("Consultations publiques", "Public consultations"),
    "cons_new": ("Nouvelle consultation", "New consultation"),
    "cons_none": ("Aucune consultation pour l'instant.", "No consultation yet."),
    "cons_number": ("N°", "No."),
    "cons_title": ("Titre", "Title"),
    "cons_opens": ("Ouverture", "Opens"),
    "cons_closes": ("Clôture", "Closes"),
    "cons_answers_n": ("Réponses", "Answers"),
    "cons_pending": ("Idées à relire", "Ideas to review"),
    "cons_states": ({"draft": "brouillon", "open": "ouverte", "closed": "close",
                     "archived": "archivée"},
                    {"draft": "draft", "open": "open", "closed": "closed",
                     "archived": "archived"}),
    "cons_move": ({"open": "Ouvrir", "closed": "Clore", "archived": "Archiver"},
                  {"open": "Open", "closed": "Close", "archived": "Archive"}),
    "cons_running": ("reçoit des réponses", "taking answers"),
    "cons_edit": ("Modifier", "Edit"),
    "cons_back_list": ("Retour aux consultations", "Back to the consultations"),
    "cons_back_detail": ("Retour à la consultation", "Back to the consultation"),
    "cons_not_saved": ("La consultation n'a pas été enregistrée :",
                       "The consultation was not saved:"),
    "cons_saved": ("Consultation enregistrée.", "Consultation saved."),
    "cons_preview": ("Aperçu", "Preview"),
    "cons_save": ("Enregistrer", "Save"),
    "cons_preview_title": ("Aperçu (non enregistré)", "Preview (not saved)"),
    "cons_preview_saved_not": ("Rien n'est enregistré tant que vous n'avez pas cliqué sur "
                               "« Enregistrer ».",
                               "Nothing is saved until you click 'Save'."),
    "cons_on_kiosk": ("sur la borne", "on the kiosk"),
    "cons_field_title_fr": ("Titre en français", "Title in French"),
    "cons_field_title_en": ("Titre en anglais", "Title in English"),
    "cons_field_question_fr": ("Question en français", "Question in French"),
    "cons_field_question_en": ("Question en anglais", "Question in English"),
    "cons_field_answers": ("Réponses (2 à 8 ; les premières sont sur la borne)",
                           "Answers (2 to 8; the first ones are on the kiosk)"),
    "cons_answer_n": ("Réponse %d", "Answer %d"),
    "cons_field_kiosk": ("Sur la borne", "On the kiosk"),
    "cons_kiosk_choice": ({0: "téléphone seulement", 2: "les 2 premières réponses",
                           3: "les 3 premières réponses", 4: "les 4 premières réponses"},
                          {0: "phone only", 2: "the first 2 answers", 3: "the first 3 answers",
                           4: "the first 4 answers"}),
    "cons_field_opens": ("Ouverture (heure de Paris)", "Opens (Paris time)"),
    "cons_field_closes": ("Clôture (heure de Paris)", "Closes (Paris time)"),
    "cons_field_sites": ("Sites", "Sites"),
    "cons_field_ideas": ("Recueillir des idées", "Collect ideas"),
    "cons_field_live": ("Publier les résultats pendant la consultation",
                        "Publish the results while it runs"),
    "cons_phone_page": ("Page pour téléphone", "Phone page"),
    "cons_moderation": ("Modération des idées", "Idea moderation"),
    "cons_moderation_intro": (
        "Les adresses électroniques et numéros de téléphone sont masqués. Une idée n'est "
        "publiée qu'une fois approuvée ; un refus demande un motif.",
        "E-mail addresses and phone numbers are masked. An idea is published only once "
        "approved; a rejection needs a reason."),
    "cons_queue": ("À relire", "To review"),
    "cons_queue_empty": ("Aucune idée en attente.", "No idea waiting."),
    "cons_approve": ("Publier", "Publish"),
    "cons_reject": ("Refuser", "Reject"),
    "cons_reason": ("Motif du refus", "Reason for rejection"),
    "cons_reason_missing": ("un refus demande un motif.", "a rejection needs a reason."),
    "cons_reason_long": ("le motif fait plus de %d caractères.",
                         "the reason is longer than %d characters."),
    "cons_rejected_n": ("Idées refusées : %d", "Ideas rejected: %d"),
    "cons_results": ("Résultats", "Results"),
    "cons_public_results": ("Résultats publics", "Public results"),
    "cons_overall": ("Ensemble des sites", "All sites"),
    "cons_results_caption": ("réponses comptées, part et intervalle de confiance à 95 %",
                             "answers counted, share and 95% confidence interval"),
    "cons_answer": ("Réponse", "Answer"),
    "cons_channels": ({"kiosk": "Borne", "phone": "Téléphone", "all": "Ensemble"},
                      {"kiosk": "Kiosk", "phone": "Phone", "all": "Together"}),
    "cons_filtered": ("Écartées (rafales, verrouillage)", "Set aside (bursts, lockout)"),
    "cons_turnout": ("Participation par jour", "Turnout per day"),
    "cons_undated": ("%d réponses de borne attendent leur heure : pas encore comptées.",
                     "%d kiosk answers are waiting for their time: not counted yet."),
    "cons_method": (
        "Méthode : chaque part est rapportée aux réponses comptées, avec son intervalle de "
        "Wilson à 95 % (voir METHOD.md).",
        "Method: each share is of the answers counted, with its 95% Wilson interval (see "
        "METHOD.md)."),
    "cons_results_later_title": ("Résultats pas encore publiés", "Results not published yet"),
    "cons_results_later": ("Les résultats seront publiés à la clôture de la consultation.",
                           "The results will be published when the consultation closes."),
    "cons_live": ("Résultats provisoires : la consultation est en cours.",
                  "Provisional results: the consultation is still running."),
    "cons_final": ("Résultats définitifs : la consultation est close.",
                   "Final results: the consultation is closed."),
    "cons_opendata": ("Données ouvertes", "Open data"),
    "cons_licence": ("sous Licence Ouverte / Etalab 2.0 (format décrit dans docs/opendata.md)",
                     "under the Licence Ouverte / Etalab 2.0 (format in docs/opendata.md)"),
    "cons_exports": ("Exporter les résultats", "Export the results"),
    "cons_running_title": ("Consultation en cours", "Consultation running"),
    "cons_today": ("réponses aujourd'hui", "answers today"),
    "cons_since_opening": ("depuis l'ouverture", "since it opened"),
    "cons_print": ("À imprimer", "To print"),
    "cons_poster": ("Affiche QR (A5)", "QR poster (A5)"),
    "cons_card": ("Carte de la borne (A5)", "Kiosk card (A5)"),
    # public consultations: refused fields (sync_server.consultations.model's codes)
    "cons_err_missing": ("ce champ est obligatoire.", "this field is required."),
    "cons_err_too_long": ("%d caractères au plus.", "at most %d characters."),
    "cons_err_control": ("caractères de contrôle non autorisés.",
                         "control characters are not allowed."),
    "cons_err_answer_half": ("la réponse %d doit avoir un texte français et un texte anglais.",
                             "answer %d needs a French and an English text."),
    "cons_err_answer_long": ("la réponse %d dépasse %d caractères.",
                             "answer %d is longer than %d characters."),
    "cons_err_answer_count": ("il faut de %d à %d réponses.", "give %d to %d answers."),
    "cons_err_kiosk_bad": ("sur la borne : 0 (téléphone seulement), 2, 3 ou 4 réponses.",
                           "on the kiosk: 0 (phone only), 2, 3 or 4 answers."),
    "cons_err_kiosk_more": ("la borne ne peut montrer plus que les %d réponses.",
                            "the kiosk cannot show more than the %d answers."),
    "cons_err_bad_time": ("la date doit s'écrire AAAA-MM-JJ HH:MM (heure de Paris).",
                          "the time must be written YYYY-MM-DD HH:MM (Paris time)."),
    "cons_err_order": ("la clôture doit suivre l'ouverture.",
                       "the closing time must come after the opening time."),
    "cons_err_no_site": ("choisissez au moins un site.", "choose at least one site."),
    "cons_err_unknown_site": ("site inconnu ou archivé : %s.", "unknown or archived site: %s."),
    "cons_err_id_range": ("le numéro d'une consultation va de %d à %d.",
                          "a consultation number is between %d and %d."),
    "cons_err_id_full": ("les 65 535 numéros de consultation sont pris : archivez-en.",
                         "all 65,535 consultation numbers are taken: archive some."),
    "cons_err_id_taken": ("le numéro %d est déjà pris.", "number %d is already taken."),
    "cons_err_unknown": ("aucune consultation n'a le numéro %s.", "no consultation has number %s."),
    "cons_err_archived": ("une consultation archivée ne change plus.",
                          "an archived consultation no longer changes."),
    "cons_err_answers_frozen": (
        "les réponses et la carte de la borne ne changent plus une fois la consultation ouverte.",
        "the answers and the kiosk card cannot change once the consultation has opened."),
    "cons_err_move": ("une consultation à l'état « %s » ne peut passer à « %s ».",
                      "a consultation in state '%s' cannot move to '%s'."),
    # the manager's overview: where and why
    "ov_title": ("Où et pourquoi", "Where and why"),
    "ov_name": ("Site", "Site"),
    "ov_prev": ("avant", "before"),
    "ov_trend": ({"up": "en hausse", "down": "en baisse", "same": "stable"},
                 {"up": "up", "down": "down", "same": "steady"}),
    "ov_sorted": ("trié par", "sorted by"),
    "ov_sort_hint": ("Cliquez sur un titre de colonne pour trier.",
                     "Select a column heading to sort."),
    "ov_chart": ("%s par site (les %d premiers dans cet ordre)",
                 "%s per site (the first %d in this order)"),
    "ov_chart_label": ("%s par site : %s", "%s per site: %s"),
    "ov_previous_period": ("Période précédente : du %s au %s",
                           "Previous period: %s to %s"),
    "trend_title": ("Évolution (borne), sur 100", "Trend (kiosk), out of 100"),
    "trend_label": ("Évolution par %s : %s", "Trend per %s: %s"),
    "trend_by": ("Par", "By"),
    "trend_units": ({"day": "jour", "week": "semaine", "edition": "édition"},
                    {"day": "day", "week": "week", "edition": "edition"}),
    # the barometer
    "bar_title": ("Baromètre de l'accueil %d", "Citizen-experience barometer %d"),
    "bar_report": ("Rapport %s", "Report: %s"),
    "bar_trophies": ("Les trophées", "The trophies"),
    "bar_no_award": ("Aucun trophée attribué pour cette édition.",
                     "No trophy awarded in this edition."),
    "bar_award_names": ({"category": "Meilleur score de la catégorie %s",
                         "progress": "Meilleure progression",
                         "channel": "Meilleur score du canal %s"},
                        {"category": "Best score of the category %s",
                         "progress": "Best progress",
                         "channel": "Best score on the channel %s"}),
    "bar_channels": ("Score par canal, sur 100", "Score per channel, out of 100"),
    "bar_steps": ("Score par étape du parcours, sur 100", "Score per journey step, out of 100"),
    "bar_step_names": ({"access": "Accès", "orientation": "Orientation",
                        "information": "Information", "treatment": "Traitement"},
                       {"access": "Access", "orientation": "Orientation",
                        "information": "Information", "treatment": "Treatment"}),
    "bar_smartphone": ("Smartphone (QR code)", "Smartphone (QR code)"),
    "bar_composite": ("Score global", "Overall score"),
    "bar_rank": ("Rang dans la catégorie %s : %s sur %d", "Rank in the category %s: %s of %d"),
    "bar_progress": ("Progression depuis l'édition précédente : %s points",
                     "Progress since the previous edition: %s points"),
    "bar_tests": ("%d visites mystère pendant la période de test (%s au %s)",
                  "%d mystery visits during the test period (%s to %s)"),
    "bar_category_dist": ("Scores globaux de la catégorie (votre score en grand)",
                          "Overall scores of the category (yours larger)"),
    "bar_trend": ("Score global au fil des éditions", "Overall score over the editions"),
    "bar_awards_won": ("Trophées obtenus", "Trophies won"),
    "bar_national": ("Synthèse nationale", "National summary"),
    "bar_category": ("Catégorie", "Category"),
    "bar_orgs": ("Organisations", "Organisations"),
    "bar_eligible": ("Éligibles", "Eligible"),
    "bar_median": ("Médiane", "Median"),
    "bar_best": ("Meilleur", "Best"),
    "bar_open_data": ("Données ouvertes (CSV)", "Open data (CSV)"),
    "bar_not_computed": ("Cette édition n'a pas encore de résultats.",
                         "This edition has no results yet."),
    "weakest": ("Critères les plus faibles d'abord", "Weakest criteria first"),
    "failing": ("en échec", "failing"),
    "qr_topics": ("Sujets cochés (QR code)", "Topics ticked (QR code)"),
    "no_topics": ("Aucun sujet coché", "No topic ticked"),
    "topic_names": ({"accueil": "Accueil", "attente": "Attente", "information": "Information",
                     "accessibilite": "Accessibilité", "courtoisie": "Courtoisie",
                     "efficacite": "Efficacité"},
                    {"accueil": "Welcome", "attente": "Waiting", "information": "Information",
                     "accessibilite": "Accessibility", "courtoisie": "Courtesy",
                     "efficacite": "Efficiency"}),
    "qr_comments": ("Derniers commentaires (QR code)", "Latest comments (QR code)"),
    "comments_masked": (
        "Adresses e-mail et numéros de téléphone masqués. Ces commentaires ne sont pas "
        "modérés : seuls les responsables les voient, jamais l'écran des agents.",
        "E-mail addresses and phone numbers are masked. These comments are not moderated: "
        "only managers see them, never the agents' screen."),
    # the agents' screen on a TV: plain words
    "tv_today": ("Satisfaction aujourd'hui, sur 100", "Satisfaction today, out of 100"),
    "tv_words": ({"good": "Très bien", "mid": "Moyen", "low": "À améliorer",
                  "none": "Pas encore de note"},
                 {"good": "Very good", "mid": "Average", "low": "To improve",
                  "none": "No score yet"}),
    "tv_legend": ("Couleurs", "Colours"),
    "tv_legend_items": (
        {"good": "75 à 100 : très bien", "mid": "50 à 74 : moyen", "low": "0 à 49 : à améliorer",
         "none": "moins de 10 réponses : pas de note"},
        {"good": "75 to 100: very good", "mid": "50 to 74: average",
         "low": "0 to 49: to improve", "none": "under 10 responses: no score"}),
    "tv_first_vote": ("Pas encore de réponse aujourd'hui", "No response yet today"),
    "tv_to_confirm": ("À confirmer : moins de 100 réponses",
                      "To be confirmed: under 100 responses"),
    "tv_too_few": ("Moins de 10 réponses : pas encore de note",
                   "Under 10 responses: no score yet"),
    "tv_positive": ("%s des usagers contents (sans doute entre %s et %s)",
                    "%s of users satisfied (probably between %s and %s)"),
    "tv_set_aside": ("%s appuis répétés ou hors horaires non comptés",
                     "%s repeated or after-hours presses not counted"),
    "tv_week": ("Les 7 derniers jours", "The last 7 days"),
    "tv_week_label": ("Satisfaction sur 100 par jour : %s", "Satisfaction out of 100 per day: %s"),
    "tv_yesterday": ("Hier", "Yesterday"),
    "tv_week_ago": ("Il y a 7 jours", "7 days ago"),
    "tv_topics": ("Sujets signalés aujourd'hui (QR code)", "Topics raised today (QR code)"),
    "tv_score": ("%s sur 100", "%s out of 100"),
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


def consultation_error(code: str, args: tuple, lang: str) -> str:
    """A refused consultation field (model's error code) in `lang`."""
    return TEXT[lang]["cons_err_" + code] % args


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
