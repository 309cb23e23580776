"""The agents' voice: internal polls answered anonymously through a team
link per site (`lifecycle`, `questions`), the rules of what their results
may show (`anonymity`, `results`), the staff idea box (`ideas`) and the
mirror of the agents' view against the citizens' (`mirror`). METHOD.md
("The agents' voice") states the rules these modules apply."""
