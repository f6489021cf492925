"""The channels customers reach us through besides the portal: email in (`email_in` reading from a
`mail_sources` source, scheduled by `schedule`; `mime` reads a mail, `sender_auth` and `mail_auth` judge
its sender, `email_routing` decides what it becomes, `email_replies` answers, `email_release` lets an
agent release a held mail). Email out is `tickets.notifications`."""
