/** Urgency-ordered delivery, provider pauses, circuits and failover on the in-process bus (test/helpers/delivery-order-suite.ts). */
import { deliveryOrderSuite } from '../helpers/delivery-order-suite.js';

deliveryOrderSuite('in-process bus', async () => ({}));
