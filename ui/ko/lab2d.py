"""Korean for the lab2d texts (see ui/ko/__init__.py)."""

KO: dict[str, str] = {
}
