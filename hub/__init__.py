"""The consortium hub: a Faust application routing members' events."""
