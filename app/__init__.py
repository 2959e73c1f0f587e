"""huren: the Sichuan–Chongqing credential mutual-recognition service."""
