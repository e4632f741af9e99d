"""The analyst and QA desks: referred decisions with the rules' reasons and trace; the review
queue, review cases with their scorecards, and double-entry conflicts side by side."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
