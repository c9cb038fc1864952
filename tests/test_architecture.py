"""Layering rules from DESIGN.md that a reviewer would otherwise have to catch by eye."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE_DIRS = sorted(path for path in ROOT.glob("*/engine") if path.is_dir())
AI_APPS = ("mining", "recommendations", "chatbot", "vision")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_every_ai_app_has_an_engine_package():
    assert [path.parent.name for path in ENGINE_DIRS] == sorted(AI_APPS)


@pytest.mark.parametrize(
    "module", [p for d in ENGINE_DIRS for p in sorted(d.rglob("*.py"))], ids=str
)
def test_engine_modules_do_not_import_django(module):
    forbidden = {
        name
        for name in _imported_modules(module)
        if name == "django"
        or name.startswith(("django.", "rest_framework", "channels", "celery"))
        or name.startswith("shopops")
    }
    assert forbidden == set(), f"{module.relative_to(ROOT)} imports {sorted(forbidden)}"


def test_the_check_catches_a_django_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from django.db import models\nimport numpy\n")

    assert _imported_modules(bad) == {"django.db", "numpy"}


@pytest.mark.parametrize("module", sorted((ROOT / "shopops" / "store").rglob("*.py")), ids=str)
def test_the_store_never_imports_an_ai_app(module):
    imported = {name.split(".")[0] for name in _imported_modules(module)}
    assert imported.isdisjoint(AI_APPS), f"{module.relative_to(ROOT)} imports an AI app"


@pytest.mark.parametrize("template", sorted((ROOT / "templates" / "storefront").glob("*.html")))
def test_the_storefront_templates_name_no_ai_app(template):
    # Apps add links and widgets through their AppConfig (shopops.store.context_processors).
    text = template.read_text()
    named = [app for app in AI_APPS if app in text]
    assert named == [], f"{template.relative_to(ROOT)} names {named}"
