//! The lab PBX: Kamailio as a registrar and router by extension, with baresip desk phones
//! that answer automatically, all on loopback. Used by `viawork demo` and the tests.
