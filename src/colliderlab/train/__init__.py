"""Training: the shared loop (:mod:`.trainer`), experiments and run directories (:mod:`.experiment`)."""
