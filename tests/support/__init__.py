"""Real outside services that several test packages run and talk to."""
