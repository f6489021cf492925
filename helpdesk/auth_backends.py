"""Authentication backends."""

from axes.backends import AxesStandaloneBackend


class SignInThrottleBackend(AxesStandaloneBackend):
    """django-axes' brute-force lockout for sign-ins made over HTTP (the rules: helpdesk/lockouts.py).

    Every way in (the portal's and the console's forms, the API's token endpoint) authenticates through
    it, so each is locked out alike, on the client's address (helpdesk/clients.py).

    A call to `authenticate()` without a request (a management command, Django's test client) has no
    client to throttle; axes would refuse it outright, so it is left to the next backend.
    """

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
