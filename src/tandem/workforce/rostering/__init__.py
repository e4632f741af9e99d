"""Rosters: who works which shift on which day, so that the staff each interval needs is there
at the least cost, within every labour rule. Pure logic, no database: `instances` reads the
Curtois-Qu benchmark's files, `scoring` checks a schedule and computes its objective without
the solver, `cpsat` solves with OR-Tools CP-SAT, `realistic` builds and solves a contact
centre's roster over time zones, a DST change and holidays (and checks it independently)."""
