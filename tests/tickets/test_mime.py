"""Reading a mail (`tickets.channels.mime`): the pure parts, without the database. Whole mails through
`process` are in test_email_in.py."""

from __future__ import annotations

import pytest

from tickets.channels.mime import html_to_text, trim_quoted


def test_html_to_text_quotes_blockquotes_and_drops_markup():
    html = (
        "<div>Thanks!</div><div class='gmail_quote'>On Tue, Mar 3, 2026 Support wrote:<br>"
        "<blockquote style='margin:0'>We restarted it.<br>"
        "<blockquote>Original</blockquote></blockquote></div>"
        "<style>.x{}</style><!-- comment --><p>&lt;b&gt;literal&lt;/b&gt;</p>"
    )
    assert html_to_text(html) == (
        "Thanks!\n\nOn Tue, Mar 3, 2026 Support wrote:\n\n"
        "> We restarted it.\n\n> > Original\n\n<b>literal</b>"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Fixed, thanks.\n\nOn Tue, Mar 3, 2026 at 9:15 AM Support <s@x.com> wrote:\n> old\n> older",
            "Fixed, thanks.",
        ),
        # Gmail wraps a long attribution line.
        (
            "Fixed.\n\nOn Tue, Mar 3, 2026 at 9:15 AM Acme Helpdesk <support@help.example.com>\n"
            "wrote:\n> old",
            "Fixed.",
        ),
        ("Fixed.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\n\nold", "Fixed."),
        (
            "Fixed.\n\n________________________________\n"
            "From: Support <s@x.com>\nSent: Monday\nTo: Jane\n\nold",
            "Fixed.",
        ),
        ("Fixed.\n\nFrom: Support <s@x.com>\nDate: Monday\nSubject: x\n\nold", "Fixed."),
        # Answers between quoted lines stay; only the trailing quote goes.
        (
            "> Which slot?\n3pm.\n> And the template?\nOnsite loop.\n>\n> Thanks\n",
            "> Which slot?\n3pm.\n> And the template?\nOnsite loop.",
        ),
        ("From: the logs I see a 401.\nNothing else.", "From: the logs I see a 401.\nNothing else."),
    ],
)
def test_quoted_history_is_trimmed(text, expected):
    assert trim_quoted(text) == expected
