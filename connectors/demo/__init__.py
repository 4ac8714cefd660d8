"""The demo `make run` plays: scripted members and the console that shows the answers."""
