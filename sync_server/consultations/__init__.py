"""Public consultations: a question asked on the kiosks and on phones, the
ideas citizens propose with their answer, and the published results.
`model` holds the checks and the life of a consultation, `results` the
figures, `opendata` the published files, `phone` the answers and ideas
taken from the phone page, `card` the printed kiosk card."""
