//! Files the program writes: atomically, never over one it did not create ([`atomic`]).
//! Every file it reads goes through nn-data's bounded read, [`nn_data::read`], which the
//! data sets share.

pub mod atomic;
