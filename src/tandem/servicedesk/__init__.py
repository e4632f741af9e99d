"""The service desk a provider runs for its clients' brands: brands, customers, conversations,
and email in (tandem.servicedesk.smtp)."""
