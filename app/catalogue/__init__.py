"""The 急需紧缺人才目录 (shortage catalogue): its rows as an import checks them, their storage, the public
listing, and the in-process index that names the posts a verified credential fills."""
