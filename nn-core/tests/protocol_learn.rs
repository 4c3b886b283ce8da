//! Protocol 4's learning messages: exact bytes, round trips, the frame sizes a board needs,
//! and the digit and tensor frames of version 3 left as they were.

use nn_core::protocol::{
    self, AnyRequest, AnyResponse, FrameError, HEAD_CHUNK, LearnOptimizer, LearnPlan, LearnReply,
    LearnRequest, LearnResponse, MAX_FRAME, TensorElement, learn_frame_len,
};

mod common;
use common::frame_of;

fn encode_request(request: &LearnRequest<'_>) -> Vec<u8> {
    let mut out = vec![0u8; learn_frame_len(1000)];
    protocol::encode_learn_request(request, &mut out)
        .unwrap()
        .to_vec()
}

fn encode_response(response: &LearnResponse<'_>) -> Vec<u8> {
    let mut out = vec![0u8; learn_frame_len(HEAD_CHUNK)];
    protocol::encode_learn_response(response, &mut out)
        .unwrap()
        .to_vec()
}

fn plan() -> LearnPlan {
    LearnPlan {
        epochs: 20,
        batch: 10,
        replay: 10,
        seed: 7,
        optimizer: LearnOptimizer::Adam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
        },
    }
}

#[test]
fn learning_messages_encode_to_exact_bytes() {
    // Request tag 3 = Learn, its tag 0 = Example, id 5, label 7, replay true, element 0 = U8,
    // length 2, the bytes.
    let example = LearnRequest::Example {
        id: 5,
        label: 7,
        replay: true,
        element: TensorElement::U8,
        data: &[0x80, 0x01],
    };
    let message = [0x03, 0x00, 0x05, 0x07, 0x01, 0x00, 0x02, 0x80, 0x01];
    assert_eq!(encode_request(&example), frame_of(&message));
    // Tag 3, its tag 2 = ReadHead, id 9, offset 512 (varint 80 04).
    let read = LearnRequest::ReadHead { id: 9, offset: 512 };
    assert_eq!(
        encode_request(&read),
        frame_of(&[0x03, 0x02, 0x09, 0x80, 0x04])
    );
    // Tag 3, its tag 3 = Reset, id 1.
    let reset = LearnRequest::Reset { id: 1 };
    assert_eq!(encode_request(&reset), frame_of(&[0x03, 0x03, 0x01]));
    // Response id 5, body tag 3 = Learn, its tag 0 = Stored, 1 example, 2 replay, of 3 and 4.
    let stored = LearnResponse {
        id: 5,
        reply: LearnReply::Stored {
            examples: 1,
            replay: 2,
            capacity: 3,
            replay_capacity: 4,
        },
    };
    let message = [0x05, 0x03, 0x00, 0x01, 0x02, 0x03, 0x04];
    assert_eq!(encode_response(&stored), frame_of(&message));
    // Body tag 3, its tag 2 = Head, offset 4, total 8, length 4, the bytes.
    let head = LearnResponse {
        id: 2,
        reply: LearnReply::Head {
            offset: 4,
            total: 8,
            data: &[0x11, 0x22, 0x33, 0x44],
        },
    };
    let message = [0x02, 0x03, 0x02, 0x04, 0x08, 0x04, 0x11, 0x22, 0x33, 0x44];
    assert_eq!(encode_response(&head), frame_of(&message));
}

#[test]
fn every_learning_message_round_trips() {
    let input: Vec<u8> = (0..784).map(|i| (i * 13 % 256) as u8).collect();
    let requests = [
        LearnRequest::Example {
            id: u32::MAX,
            label: 9,
            replay: false,
            element: TensorElement::I8,
            data: &input,
        },
        LearnRequest::Learn {
            id: 3,
            plan: LearnPlan {
                seed: u64::MAX,
                epochs: u32::MAX,
                batch: u32::MAX,
                replay: u32::MAX,
                ..plan()
            },
        },
        LearnRequest::Learn {
            id: 4,
            plan: LearnPlan {
                optimizer: LearnOptimizer::Sgd { lr: 0.5 },
                ..plan()
            },
        },
        LearnRequest::ReadHead {
            id: 1,
            offset: u32::MAX,
        },
        LearnRequest::Reset { id: 0 },
    ];
    for request in requests {
        let mut frame = encode_request(&request);
        assert!(frame.len() <= learn_frame_len(input.len()));
        assert_eq!(
            protocol::decode_any_request(&mut frame),
            Ok(AnyRequest::Learn(request))
        );
        // The digit decoder takes digits only.
        let mut frame = encode_request(&request);
        assert_eq!(
            protocol::decode_request(&mut frame),
            Err(FrameError::Malformed)
        );
    }
    let chunk = [0xA5u8; HEAD_CHUNK];
    let replies = [
        LearnReply::Stored {
            examples: u32::MAX,
            replay: 0,
            capacity: 200,
            replay_capacity: u32::MAX,
        },
        LearnReply::Learned {
            steps: u32::MAX,
            loss_sum: 12.5,
            correct: 99,
            count: u64::MAX,
            stack_used: u32::MAX,
        },
        LearnReply::Head {
            offset: u32::MAX,
            total: u32::MAX,
            data: &chunk,
        },
    ];
    for reply in replies {
        let response = LearnResponse {
            id: u32::MAX,
            reply,
        };
        // Any board's buffer holds the longest reply.
        let mut out = [0u8; MAX_FRAME];
        let mut frame = protocol::encode_learn_response(&response, &mut out)
            .unwrap()
            .to_vec();
        assert_eq!(
            protocol::decode_any_response(&mut frame),
            Ok(AnyResponse::Learn(response))
        );
        let mut frame = protocol::encode_learn_response(&response, &mut out)
            .unwrap()
            .to_vec();
        assert_eq!(
            protocol::decode_response(&mut frame),
            Err(FrameError::Malformed)
        );
    }
}

#[test]
fn a_too_small_buffer_names_what_is_enough() {
    let mut out = [0u8; 8];
    let example = LearnRequest::Example {
        id: 1,
        label: 0,
        replay: false,
        element: TensorElement::U8,
        data: &[1; 100],
    };
    assert_eq!(
        protocol::encode_learn_request(&example, &mut out),
        Err(nn_core::Error::BufferTooSmall {
            needed: learn_frame_len(100),
            found: 8
        })
    );
}

#[test]
fn the_new_errors_travel_after_the_old_ones() {
    // An error reply: id 1, body tag 1 = Error, FrameError 6.. in declaration order.
    for (error, tag) in [
        (FrameError::StoreFull, 6),
        (FrameError::BadLabel, 7),
        (FrameError::CannotLearn, 8),
        (FrameError::BadOffset, 9),
    ] {
        let response = protocol::Response {
            id: 1,
            body: protocol::ResponseBody::Error(error),
        };
        let mut out = [0u8; MAX_FRAME];
        let frame = protocol::encode_response(&response, &mut out).unwrap();
        assert_eq!(frame, frame_of(&[0x01, 0x01, tag]));
        assert!(!error.to_string().is_empty());
    }
}
