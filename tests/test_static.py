"""Production static files: ``collectstatic`` with the storage production uses."""

import json

from django.core.management import call_command


def test_collectstatic_builds_the_production_manifest(settings, tmp_path):
    # given the production storage (DEBUG off): hashed names, compressed copies, and a
    # post-processing pass that fails on any reference to a file that is not shipped
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

    # when
    call_command("collectstatic", "--noinput", verbosity=0)

    # then every asset the pages and the chat widget load is in the manifest, hashed
    paths = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    for asset in (
        "vendor/chart.umd.min.js",
        "css/shopops.css",
        "css/storefront.css",
        "chatbot/widget.js",
        "chatbot/widget.css",
        "chatbot/console.js",
    ):
        assert paths[asset] != asset
        assert (tmp_path / "static" / paths[asset]).is_file()
