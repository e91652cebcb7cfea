"""Reports for the people behind the bot: the misunderstood-questions inbox and usage reports."""
