"""Cookies of a crowd worker whose task runs in MTurk's frame.

Inside the frame our pages are a third party to the worker site, and browsers send a
SameSite=Lax cookie only to the top-level site: the session (and the CSRF cookie the
annotator app sends back) would be lost between the entry link and the first unit. For those
sessions only (marked by the crowd entry view), the two cookies go out as SameSite=None;
Secure, which browsers accept from HTTPS sites (and from localhost). Every other session
keeps the project's defaults."""

from __future__ import annotations

from django.conf import settings

FRAME_SESSION_KEY = "mturk_submit_to"  # set by the crowd entry view for MTurk workers


class CrowdFrameCookiesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        cookies = [c for c in (response.cookies.get(settings.SESSION_COOKIE_NAME), response.cookies.get(settings.CSRF_COOKIE_NAME)) if c is not None and c.value]
        if not cookies:
            return response  # the usual case: no session read here
        session = getattr(request, "session", None)
        if session is not None and session.get(FRAME_SESSION_KEY):
            for cookie in cookies:
                cookie["samesite"] = "None"
                cookie["secure"] = True
        return response
