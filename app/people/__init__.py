"""People: staff accounts, sign-in, browser sessions and single sign-on."""
