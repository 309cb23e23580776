"""Mystery-shopper audits: vocabulary, criteria, file import and results."""
