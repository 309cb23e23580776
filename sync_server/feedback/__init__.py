"""QR feedback without the web: tokens, answers, rate limits and CSRF keys, posters."""
