"""Central pharmacy replenishment: the arithmetic, each member's ledger, requisitions and
their dispatch, transfers between members, drug traceability, and the engine that runs them
for one event."""
