"""Client business rules: rulesets (zen-engine), straight-through processing, referral, backtest."""
