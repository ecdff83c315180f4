"""The calculator: a web page and a JSON API for one patient (``remnant serve``).

:func:`remnant.web.app.create_app` builds the FastAPI application: ``POST /api/v1/predict``
answers with the JSON of ``remnant predict --json``, ``GET /`` serves the page (form and
answer, the inputs in the URL, English or Simplified Chinese). Every asset is served by the
app itself. docs/web.md.
"""
