"""The channels customers reach us through besides the portal: email in (`email_in` reading from a
`mail_sources` source, scheduled by `schedule`). Email out is `tickets.notifications`."""
