"""The simulated internet: loopback stand-ins for DNS, RDAP, WHOIS, hosting
servers, an SMTP sink and webhook receivers (`nttd.demo.standins`), shared by the
tests and, later, `nttd demo`. Nothing here talks to anything but loopback."""
