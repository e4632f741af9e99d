"""SLA clocks: business calendars and SLA policies."""
