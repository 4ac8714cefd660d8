"""Software that runs outside the hub, grouped by who runs it: `member/` (a member's IT
staff), `cdc/` (the CDC), `pharmacy/` (the central pharmacy), `demo/` (the demo). The
`hub-connector` command, its settings and metrics are shared at the root. Never imports
`hub`."""
