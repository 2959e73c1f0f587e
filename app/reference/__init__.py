"""Reference data: the code tables (regions, titles, skill levels, card systems) and recognition rules."""
