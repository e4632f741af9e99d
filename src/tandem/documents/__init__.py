"""Documents handed over with work items (a scanned form beside the form to key): checked by
their content, sealed with the client's key, opened only by whoever may work on or review the
item (audited), drawn a page at a time."""
