"""Dead letters: the `hub dlq` commands, the view of a letter, and the replay of letters to
the topic they came from."""
