"""GNN track finding (Exa.TrkX, arXiv:2103.06995) and its classical baseline."""
