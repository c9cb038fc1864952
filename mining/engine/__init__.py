"""The mining app's pure engines: plain Python, numpy and scipy, no Django import."""

from mining.engine.association import Rule, association_rules, frequent_itemsets

__all__ = ["Rule", "association_rules", "frequent_itemsets"]
