"""What the CDC runs: the sink that files every notifiable disease report card."""
