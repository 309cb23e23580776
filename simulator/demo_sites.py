"""The demo's sample network: three public services with their own opening
hours, traffic and mood, and sample citizens' comments for the QR form."""

# hours: weekday "0" (Monday) .. "6" -> spans of local minutes since midnight.
WEEKDAYS = ("0", "1", "2", "3", "4")

SITES = (
    {
        "id": "mairie-centre",
        "name": "Mairie centrale, accueil",
        "buttons": 4,
        "hours": dict({d: [[510, 720], [810, 1050]] for d in WEEKDAYS}, **{"5": [[540, 720]]}),
        "per_day": 110,     # kiosk presses on a full day
        "mood": 0.2,        # -1 (grumpy) .. 1 (delighted)
        "qr_per_day": 4,
    },
    {
        "id": "mediatheque-jules-verne",
        "name": "Médiathèque Jules-Verne",
        "buttons": 3,
        "hours": {"1": [[600, 1080]], "2": [[600, 1140]], "3": [[600, 1080]],
                  "4": [[600, 1080]], "5": [[600, 1080]]},
        "per_day": 70,
        "mood": 0.6,
        "qr_per_day": 3,
    },
    {
        "id": "solidarites-nord",
        "name": "Maison des solidarités Nord",
        "buttons": 4,
        "hours": {d: [[540, 750], [810, 1020]] for d in WEEKDAYS},
        "per_day": 55,
        "mood": -0.35,
        "qr_per_day": 2,
    },
)

# (level share, topics, comment) by how the citizen felt: 0 unhappy .. 2 happy.
COMMENTS = {
    0: (
        (("attente",), "Plus d'une heure d'attente, un seul guichet ouvert."),
        (("information",), "On m'a renvoyé vers un autre service sans explication."),
        (("accessibilite",), "L'ascenseur était en panne, impossible de monter."),
        (("attente", "efficacite"), "Dossier incomplet alors qu'on m'avait dit que c'était bon."),
    ),
    1: (
        (("attente",), "Accueil correct mais l'attente reste longue en fin de matinée."),
        (("information",), "Réponse donnée, mais il a fallu revenir pour un justificatif."),
        ((), "Rien à signaler."),
    ),
    2: (
        (("accueil", "courtoisie"), "Agent très aimable et patient, merci !"),
        (("efficacite",), "Démarche faite en dix minutes, parfait."),
        (("information",), "Explications claires, je sais quoi faire maintenant."),
        (("accueil",), "Accueil souriant. Vous pouvez me recontacter au 06 12 34 56 78."),
        ((), ""),
    ),
}


def comment_for(level, scale, rng):
    """A sample (topics, comment) fitting a level on a scale of 2 to 4 buttons."""
    mood = 0 if level == 0 else (2 if level == scale - 1 else 1)
    topics, text = rng.choice(COMMENTS[mood])
    return list(topics), text
