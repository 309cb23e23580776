"""What each smiley level is called, per scale (number of buttons), in French
and English: one table for the QR form, the agents' screen and the manager
view. Level 0 is the least satisfied."""

LEVEL_NAMES = {
    "fr": {2: ("Pas satisfait", "Satisfait"),
           3: ("Pas satisfait", "Moyennement satisfait", "Satisfait"),
           4: ("Très mécontent", "Mécontent", "Satisfait", "Très satisfait")},
    "en": {2: ("Not satisfied", "Satisfied"),
           3: ("Not satisfied", "Fairly satisfied", "Satisfied"),
           4: ("Very unhappy", "Unhappy", "Satisfied", "Very satisfied")},
}
