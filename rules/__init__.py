"""The pandera contract, the rule engine and the rule packs (đúng, đủ, sạch, sống)."""
