"""The portal's forms in a real browser (issue 14, item 11): a counter under the 200-character subject,
so that nothing is cut silently; files checked when chosen; and a form carrying files checked before it
is sent, so that a mistake never sends the page back without the files the customer chose.

Run only the browser tests with `pytest -m browser`. Without /usr/bin/chromium the module is skipped,
except in CI.
"""

from __future__ import annotations

import base64

import pytest

from tests.browser import skip_without_chromium
from tests.factories import PASSWORD, CustomerFactory
from tickets.models import Ticket
from tickets.services import ticket_create

PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
TIMEOUT_MS = 10_000

skip_without_chromium()

from playwright.sync_api import expect  # noqa: E402 - only once Chromium is known to exist

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
]


@pytest.fixture
def customer_page(live_server, browser):
    customer = CustomerFactory()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{live_server.url}/portal/login/")
    page.get_by_label("Username").fill(customer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/portal/")
    yield customer, page
    context.close()


def chosen(page, selector: str) -> int:
    return page.evaluate(f"() => document.querySelector('{selector}').files.length")


def test_the_subject_counts_down_and_files_survive_a_mistake(live_server, customer_page):
    customer, page = customer_page
    page.goto(f"{live_server.url}/portal/tickets/new/")
    counter = page.locator("#id_subject-counter")
    expect(counter).to_have_text("0 / 200")
    page.locator("#id_subject").fill("x" * 250)  # a paste longer than the limit: the browser keeps 200
    expect(counter).to_contain_text("200 / 200 — the limit")
    expect(counter).to_have_class("hd-counter is-full")

    # A file we would refuse is named as soon as it is chosen.
    page.locator("#id_attachments").set_input_files(
        files=[{"name": "setup.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x90\x00"}]
    )
    message = page.evaluate("() => document.querySelector('#id_attachments').validationMessage")
    assert "setup.exe" in message and "not a kind of file we accept" in message

    # A good file, and the description forgotten: the form stays on the page, the file still chosen.
    page.locator("#id_attachments").set_input_files(
        files=[{"name": "screen.png", "mimeType": "image/png", "buffer": PNG_1X1}]
    )
    page.locator("#id_subject").fill("Candidates see no slots")
    page.locator("#id_description").fill("")
    page.locator(".ticket-form [type=submit]").last.click()
    expect(page).to_have_url(f"{live_server.url}/portal/tickets/new/")
    assert chosen(page, "#id_attachments") == 1
    assert page.evaluate("() => document.querySelector('#id_description').validity.valueMissing")
    assert not Ticket.objects.filter(requester=customer).exists()

    # Put right, it goes, with the file.
    page.locator("#id_description").fill("The self-scheduling page shows no times.")
    page.locator(".ticket-form [type=submit]").last.click()
    expect(page.locator("h1")).to_contain_text("Candidates see no slots")
    ticket = Ticket.objects.get(requester=customer)
    assert list(ticket.attachments.values_list("original_name", flat=True)) == ["screen.png"]


def test_a_reply_with_files_is_checked_before_it_is_sent(live_server, customer_page):
    customer, page = customer_page
    ticket = ticket_create(requester=customer, subject="Slow", description="Pages are slow")
    page.goto(f"{live_server.url}/portal/tickets/{ticket.reference}/")
    reply = page.locator("#id_attachments")
    reply.set_input_files(files=[{"name": "huge.log", "mimeType": "text/plain", "buffer": b""}])
    message = page.evaluate("() => document.querySelector('#id_attachments').validationMessage")
    assert "huge.log" in message and "empty" in message
    reply.set_input_files(files=[{"name": "trace.txt", "mimeType": "text/plain", "buffer": b"GET / 200\n"}])
    page.locator("#id_body").fill("Here is the trace.")
    page.locator("#id_body").press("Tab")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".message").last).to_contain_text("trace.txt")
    assert ticket.messages.get().attachments.get().original_name == "trace.txt"
