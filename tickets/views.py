"""Views of the ticket domain outside the admin: the permission-checked attachment download.

One URL (`/attachments/{id}/`, the API's `download_url`) serves two kinds of client with the same checks:
browsers signed in to the portal or the console (a session), and API clients sending
`Authorization: Token <key>`, authenticated, throttled and answered like the rest of the API.
"""

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from tickets.api.authentication import TokenAuthentication, token_organization_id
from tickets.api.permissions import IsAgentOrCustomer
from tickets.models import Attachment


@never_cache
@require_GET
def attachment_download(request, pk: int):
    """Send an attachment the caller may see as a download; anything else is a 404, leaking nothing."""
    header = get_authorization_header(request).split()
    if header and header[0].lower() == TokenAuthentication.keyword.lower().encode():
        return _token_download(request, pk=pk)
    return _session_download(request, pk)


@login_required
def _session_download(request, pk: int):
    return serve_attachment(get_object_or_404(downloadable(request.user), pk=pk))


class TokenDownloadView(APIView):
    """The download for API tokens: customers get their tickets' public files, agents every file; a token
    limited to an organization reaches that organization's files only."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAgentOrCustomer]
    renderer_classes = [JSONRenderer]  # for errors; a file is sent as it is

    def perform_content_negotiation(self, request, force=False):
        # Whatever the client accepts (a file type, say), errors are answered in JSON rather than 406.
        return super().perform_content_negotiation(request, force=True)

    def get(self, request, pk: int):
        attachment = downloadable(request.user, token_organization_id(request)).filter(pk=pk).first()
        if attachment is None:
            raise NotFound("No such attachment.")
        return serve_attachment(attachment)


_token_download = TokenDownloadView.as_view()


def downloadable(user, organization_id: int | None = None) -> QuerySet[Attachment]:
    """The attachments `user` may download, within one organization when a token is limited to it."""
    attachments = Attachment.objects.visible_to(user)
    if organization_id is not None:
        attachments = attachments.filter(ticket__organization_id=organization_id)
    return attachments


def serve_attachment(attachment: Attachment) -> FileResponse:
    """The file as a download that a browser will neither render nor sniff, and nobody caches."""
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("The file is missing from storage.") from exc
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.original_name, content_type=attachment.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Even if a browser did render it, it could run nothing and reach nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
